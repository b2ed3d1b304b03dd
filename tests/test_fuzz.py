"""Short fuzz runs (atheris) over the answers loader and the rules loader + compiler.

Each runs in a subprocess, so a segfault in a C extension (libyaml, durable_rules) is reported as
a failure instead of killing the test session. Seeds: the shipped rules, the example districts and
the bad-input corpus. A longer run is documented in tests/fuzz/fuzz_targets.py.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.rules.rulebook import RULE_FILES

from .conftest import FIXTURES, ROOT

TARGETS = ROOT / "tests" / "fuzz" / "fuzz_targets.py"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed (pip install '.[test]'); the hypothesis tests in test_properties.py still fuzz the loaders",
)


def run(target: str, corpus: Path, runs: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TARGETS), target, str(corpus), f"-runs={runs}", "-seed=1", "-max_len=4096"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )


def test_fuzz_answers_loader(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = sorted((FIXTURES / "examples").glob("*/answers.yaml")) + sorted((ROOT / "tests" / "bad_inputs").iterdir())
    for index, seed in enumerate(seeds):
        shutil.copy(seed, corpus / f"seed-{index}{seed.suffix}")
    done = run("answers", corpus, 1500)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 1500 runs" in done.stderr


def test_fuzz_rules_loader_and_compiler(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, stem in enumerate(RULE_FILES):
        (corpus / stem).write_bytes(bytes([index]) + (FIXTURES / "rules" / f"{stem}.yaml").read_bytes())
    done = run("rules", corpus, 150)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 150 runs" in done.stderr
