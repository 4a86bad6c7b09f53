"""Reads that decide what an account may see. Every view, API endpoint, export and report gets its
rows through `visible_to`, so there is one place where territory is enforced.

An account's scope is a division; it sees a record when the record's division code starts with the
scope's code (the codes are hierarchical, see models/territory.py). django-guardian grants exceptions
on single objects (a task shared with an expert of another county).
"""

from __future__ import annotations

from django.db.models import Model, Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from .models import Division, TracingTask, Unit, User


def scope_code(user) -> str | None:
    """The code prefix the account is confined to; "" for a superuser (everything), None for nobody."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return ""
    return user.division_id


def in_scope(user, code: str | None) -> bool:
    prefix = scope_code(user)
    return prefix is not None and code is not None and code.startswith(prefix)


def visible_to(user, queryset: QuerySet, *, path: str | None = None) -> QuerySet:
    """Filter `queryset` to the rows `user` may see.

    `path` is the lookup from the model to a division code (defaults to the model's SCOPE_PATH).
    """
    model = queryset.model
    path = path or getattr(model, "SCOPE_PATH", None)
    if path is None:
        raise TypeError(f"{model.__name__} has no SCOPE_PATH: say how it hangs off the territory")
    prefix = scope_code(user)
    if prefix is None:
        return queryset.none()
    if prefix == "":
        return queryset
    condition = Q(**{f"{path}__startswith": prefix})
    shared = _shared_ids(user, model)
    if shared is not None:
        condition |= Q(pk__in=shared)
    return queryset.filter(condition)


def _shared_ids(user, model: type[Model]):
    if model is not TracingTask:
        return None
    granted = get_objects_for_user(
        user,
        "tasks.view_tracingtask",
        klass=TracingTask.objects.all(),
        use_groups=True,
        with_superuser=False,
        accept_global_perms=False,
    )
    return granted.values("pk")


def get_visible_or_404(user, queryset: QuerySet, **lookup):
    """Fetch and authorise in one step: outside the account's scope a record does not exist."""
    try:
        return visible_to(user, queryset).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404 from None


def tasks_visible_to(user) -> QuerySet[TracingTask]:
    return visible_to(user, TracingTask.objects.all())


def divisions_visible_to(user) -> QuerySet[Division]:
    return visible_to(user, Division.objects.all(), path="code")


def units_visible_to(user) -> QuerySet[Unit]:
    return visible_to(user, Unit.objects.all(), path="division__code")


def accounts_visible_to(user) -> QuerySet[User]:
    return visible_to(user, User.objects.filter(is_superuser=False), path="division__code")


def transfers_visible_to(user):
    """Transfers the account may see: those it sent (the task is in its territory) and those addressed
    to its territory (the receiving desk's inbox; the task itself stays with the sender until accepted)."""
    from .models import Transfer

    prefix = scope_code(user)
    queryset = Transfer.objects.select_related(
        "task", "from_division", "to_division", "requested_by", "decided_by"
    )
    if prefix is None:
        return queryset.none()
    if prefix == "":
        return queryset
    return queryset.filter(
        Q(to_division__code__startswith=prefix) | Q(from_division__code__startswith=prefix)
    )


def pending_transfer_for_receiver_or_404(user, task_id: int):
    """The pending transfer of task `task_id` addressed to the account's territory; 404 when the
    task is neither visible to the account nor being transferred to it."""
    from .models import Transfer

    prefix = scope_code(user)
    if prefix is None:
        raise Http404
    transfer = (
        Transfer.objects.select_related("task", "to_division")
        .filter(task_id=task_id, status=Transfer.Status.PENDING, to_division__code__startswith=prefix)
        .first()
    )
    if transfer is None:
        raise Http404
    return transfer


def desks_without_officer_on_shift(user, root: str | None = None, now=None) -> QuerySet[Unit]:
    """The duty desks inside `root` (default: the account's scope) with nobody on shift at `now`: their
    breaches go to every duty officer of the desk (tasks/sweep.py), and the dashboard says so."""
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from .models import DutyShift

    now = now or timezone.now()
    desks = units_visible_to(user).filter(kind=Unit.Kind.DUTY_DESK)
    if root:
        desks = desks.filter(division__code__startswith=root)
    on_shift = DutyShift.objects.filter(unit=OuterRef("pk"), starts_at__lte=now, ends_at__gt=now)
    return desks.filter(~Exists(on_shift)).order_by("division_id")
