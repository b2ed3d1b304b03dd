"""The shipped rules/, templates/ and examples/, checked only by properties that hold for any valid
rule set. Their example districts run through the pytest plugin (`examples/*/expect.yaml`); nothing
here pins their content, so a product manager's valid edit keeps this file green."""

from __future__ import annotations

from engine.cli import main

from .conftest import ROOT


def test_the_shipped_rules_pass_validate_exhaustive() -> None:
    """Every one of the yes/no combinations gets one recommendation, no unresolved tie, and every
    override can fire: what `validate --exhaustive` promises of any rule set that ships."""
    assert main(["validate", str(ROOT / "rules"), "--exhaustive"]) == 0
