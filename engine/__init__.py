"""Rostering Advisor: recommend SIS Sync or the User Import Tool for a school district.

The pipeline runs one way, one subpackage per stage: `rules` (read and check the YAML) →
`evaluate` (compile into durable_rules, decide) → `render` (documents) → `batch` / `verify`
→ `cli`. `Advisor` is the entry point.
"""

from engine.version import __version__
from engine.errors import AdvisorError, EngineError, InputError
from engine.evaluate.advisor import Advisor, Recommendation
from engine.evaluate.answers import District

__all__ = ["Advisor", "AdvisorError", "District", "EngineError", "InputError", "Recommendation"]
