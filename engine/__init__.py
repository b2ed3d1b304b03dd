"""Rostering Advisor: recommend SIS Sync or the User Import Tool for a school district.

The pipeline runs one way, one subpackage per stage: `rules` (read and check the YAML) →
`evaluate` (compile into durable_rules, decide) → `render` (documents) → `batch` / `verify`
→ `cli`. `Advisor` is the entry point.
"""

from typing import Any

from engine.errors import AdvisorError, EngineError, InputError
from engine.version import __version__ as __version__

__all__ = ["Advisor", "AdvisorError", "District", "EngineError", "InputError", "Recommendation"]


def __getattr__(name: str) -> Any:
    """`Advisor`, `Recommendation` and `District` are imported when first used: the command line
    starts without loading the engine, so a Ctrl-C at once ends cleanly (exit 130)."""
    if name in ("Advisor", "Recommendation"):
        from engine.evaluate import advisor

        return getattr(advisor, name)
    if name == "District":
        from engine.evaluate.answers import District

        return District
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
