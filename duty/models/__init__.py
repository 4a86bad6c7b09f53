# Each area adds its models in its own module here and re-exports them.
from .orders import (
    OPEN_STATES,
    OrderPriority,
    OrderState,
    SupervisionOrder,
    SupervisionOrderEvent,
)

__all__: list[str] = [
    "OPEN_STATES",
    "OrderPriority",
    "OrderState",
    "SupervisionOrder",
    "SupervisionOrderEvent",
]
