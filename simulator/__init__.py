"""pagemig engine: a numpy model of Linux page migration and memory compaction.

Never imports Django. See docs/engine-api.md for the API the site and CLI use.
"""

ENGINE_VERSION = "0.2.0"

from .constants import STATE_NAMES  # noqa: E402
from .engine import Simulation, StepResult, load_preset  # noqa: E402
from .presets import PRESETS  # noqa: E402
from .scenario import FieldError, Scenario, ScenarioError  # noqa: E402

__all__ = [
    "ENGINE_VERSION",
    "PRESETS",
    "STATE_NAMES",
    "FieldError",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "StepResult",
    "load_preset",
]
