# Each area adds its models in its own module here and re-exports them.
from .handover import Handover
from .orders import (
    OPEN_STATES,
    OrderPriority,
    OrderState,
    SupervisionOrder,
    SupervisionOrderEvent,
)
from .roster import ShiftSwap

__all__: list[str] = [
    "OPEN_STATES",
    "Handover",
    "OrderPriority",
    "OrderState",
    "ShiftSwap",
    "SupervisionOrder",
    "SupervisionOrderEvent",
]
