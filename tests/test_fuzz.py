"""Short fuzz runs (atheris) over the answers loader and the rules loader + compiler.

Each runs in a subprocess, so a segfault in a C extension (libyaml, durable_rules) is reported as
a failure instead of killing the test session. Seeds: the tests' own rules (tests/fixtures), their
example districts and the bad-input corpus. Short by default; ROSTERING_LONG_TESTS=1 runs them ~20
times longer (and tests/fuzz/fuzz_targets.py documents longer runs still).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.rules.rulebook import RULE_FILES

from .conftest import FIXTURES, LONG, ROOT

TARGETS = ROOT / "tests" / "fuzz" / "fuzz_targets.py"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed (pip install '.[test]'); the hypothesis tests in test_properties.py still fuzz the loaders",
)


def ran(done: subprocess.CompletedProcess[str]) -> int:
    """How many inputs libFuzzer ran: at least -runs, more when the seed corpus alone takes more."""
    match = re.search(r"Done (\d+) runs", done.stderr)
    return int(match.group(1)) if match else 0


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
    runs = 20_000 if LONG else 400
    done = run("answers", corpus, runs)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ran(done) >= runs


def test_fuzz_rules_loader_and_compiler(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, stem in enumerate(RULE_FILES):
        (corpus / stem).write_bytes(bytes([index]) + (FIXTURES / "rules" / f"{stem}.yaml").read_bytes())
    runs = 1_500 if LONG else 40
    done = run("rules", corpus, runs)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ran(done) >= runs
