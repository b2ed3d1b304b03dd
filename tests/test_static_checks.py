"""Static checks that run with the test suite: mypy on engine/ (configured in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy() -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install '.[test]')")
    options = ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(ROOT / ".mypy_cache")]
    stdout, stderr, status = api.run([*options, str(ROOT / "engine")])
    assert status == 0, stdout + stderr
