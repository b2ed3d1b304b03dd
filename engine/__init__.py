"""Rostering Advisor: recommend SIS Sync or the User Import Tool for a school district.

The pipeline runs one way: load (`loader`, `rulebook`) → validate (`schema`, `checks`) →
compile (`compiler`) → run (`runtime`) → render (`documents`). `Advisor` is the entry point.
"""

__version__ = "0.1.0"

from .advisor import Advisor, Recommendation
from .answers import District
from .errors import AdvisorError, EngineError, InputError

__all__ = ["Advisor", "AdvisorError", "District", "EngineError", "InputError", "Recommendation"]
