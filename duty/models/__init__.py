# Each area adds its models in its own module here and re-exports them.
from .handover import Handover
from .roster import ShiftSwap

__all__: list[str] = ["Handover", "ShiftSwap"]
