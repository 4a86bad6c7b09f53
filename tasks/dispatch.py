"""Automatic dispatch after each intake batch (issue: dispatch within 30 minutes). To be built."""


def dispatch_new_tasks(*, batch_id: int | None = None, now=None) -> int:
    """Dispatch the new tasks (of one batch, or all) in sets; return how many were dispatched."""
    return 0
