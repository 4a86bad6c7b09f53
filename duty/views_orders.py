"""Pages of supervision orders (docs/duty.md#supervision-orders): the list per role with its filters in
the URL, the issuing form, the order with its thread and buttons, and the statistics by owner unit
(CSV too). Desktop for commanders and duty officers; the list and the order page also fit a 360 px phone
(team leaders answer from the field)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tasks.exports import csv_text
from tasks.models import Role, Unit
from tasks.selectors import accounts_visible_to, units_visible_to

from .models import OrderPriority, OrderState, SupervisionOrder
from .services import orders as services

ACTIONS: dict[str, Callable[..., SupervisionOrder]] = {
    "acknowledge": services.acknowledge_order,
    "reply": services.reply_order,
    "complete": services.complete_order,
    "accept": services.accept_order,
    "send-back": services.send_back_order,
}
OWNER_ROLES = (Role.TEAM_LEADER, Role.FIELD_STAFF, Role.DUTY_OFFICER)
MAX_CHOICES = 500


def _filters(request) -> services.ListFilters:
    return services.ListFilters(
        scope=request.GET.get("scope", ""),
        state=request.GET.get("state", ""),
        priority=request.GET.get("priority", ""),
        overdue=request.GET.get("overdue") == "1",
    )


def _query(request, **changes) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    for key, value in changes.items():
        if value in ("", None):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode() if params else "?"


@login_required
def order_list(request):
    user = request.user
    filters = _filters(request)
    try:
        queryset = services.filter_orders(user, filters)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("supervision_order_list")
    scope = filters.scope or services.default_scope(user)
    page = Paginator(queryset.prefetch_related("tasks"), 50).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(order, order.is_overdue(now)) for order in page.object_list]
    return render(
        request,
        "duty/orders_list.html",
        {
            "rows": rows,
            "orders": [order for order, _overdue in rows],
            "page": page,
            "page_query": _query(request, scope=scope),
            "scope": scope,
            "scopes": [
                (key, services.SCOPES[key], _query(request, scope=key)) for key in services.scopes_for(user)
            ],
            "filters": filters,
            "states": OrderState.choices,
            "priorities": OrderPriority.choices,
            "can_issue": services.can_issue(user),
            "can_stats": services.can_issue(user) or user.role == Role.TEAM_LEADER,
        },
    )


def _parse_local(value: str) -> datetime | None:
    """A datetime-local value (Beijing time, the site's zone) as an aware datetime."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else timezone.make_aware(parsed)


def _owner_choices(user):
    units = (
        units_visible_to(user)
        .filter(kind__in=[Unit.Kind.TEAM, Unit.Kind.SUBUNIT, Unit.Kind.DUTY_DESK])
        .order_by("division_id")
        .values_list("pk", "name", "division_id")[:MAX_CHOICES]
    )
    accounts = (
        accounts_visible_to(user)
        .filter(is_active=True, role__in=OWNER_ROLES)
        .order_by("division_id", "username")
        .only("pk", "username", "full_name", "role", "division_id")[:MAX_CHOICES]
    )
    return list(units), list(accounts)


@login_required
def order_new(request):
    user = request.user
    if not services.can_issue(user):
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    values = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        divisions = " ".join(
            v for v in (request.POST.get("division_code", ""), request.POST.get("divisions", "")) if v
        )
        deadline = _parse_local(request.POST.get("deadline", ""))
        owner_kind = request.POST.get("owner_kind", "unit")
        try:
            if deadline is None:
                raise ValidationError({"deadline": [_("Give the deadline as a date and time.")]})
            order = services.issue_order(
                actor=user,
                title=request.POST.get("title", ""),
                text=request.POST.get("text", ""),
                deadline=deadline,
                priority=request.POST.get("priority", OrderPriority.NORMAL),
                owner_unit=request.POST.get("owner_unit") if owner_kind == "unit" else None,
                owner_user=request.POST.get("owner_user") if owner_kind == "person" else None,
                tasks=request.POST.get("tasks", ""),
                divisions=divisions,
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, _("Supervision order %(number)s issued.") % {"number": order.number})
            return redirect("supervision_order_detail", order_id=order.pk)
    units, accounts = _owner_choices(user)
    return render(
        request,
        "duty/orders_form.html",
        {
            "errors": errors,
            "values": values,
            "units": units,
            "accounts": accounts,
            "priorities": OrderPriority.choices,
            "default_deadline": timezone.localtime(timezone.now() + timedelta(days=1)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
        },
        status=400 if errors else 200,
    )


def _order_or_404(user, order_id: int) -> SupervisionOrder:
    try:
        return (
            services.orders_visible_to(user)
            .select_related("owner_unit", "owner_user", "issuer", "issuer_division", "owner_division")
            .get(pk=order_id)
        )
    except SupervisionOrder.DoesNotExist:
        raise Http404 from None


@login_required
def order_detail(request, order_id: int):
    user = request.user
    order = _order_or_404(user, order_id)
    return render(
        request,
        "duty/orders_detail.html",
        {
            "order": order,
            "events": order.events.select_related("actor"),
            "task_ids": sorted(order.tasks.values_list("pk", flat=True)),
            "divisions": order.divisions.order_by("code"),
            "actions": services.actions_for(user, order),
            "overdue": order.is_overdue(),
            "owner_name": services.owner_name(order),
        },
    )


@login_required
@require_POST
def order_action(request, order_id: int, action: str):
    service = ACTIONS.get(action)
    if service is None:
        raise Http404
    order = _order_or_404(request.user, order_id)
    kwargs = {}
    if action in ("reply", "complete"):
        kwargs["text"] = request.POST.get("text", "")
    elif action == "send-back":
        kwargs["reason"] = request.POST.get("reason", "")
    try:
        service(order=order, actor=request.user, **kwargs)
    except services.OrderConflict as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    return redirect(reverse("supervision_order_detail", kwargs={"order_id": order.pk}) + "#thread")


@login_required
def order_stats(request):
    user = request.user
    filters = _filters(request)
    filters.scope = filters.scope or ("all" if "all" in services.scopes_for(user) else "assigned")
    try:
        queryset = services.filter_orders(user, filters)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("supervision_order_stats")
    rows = services.stats_by_owner(queryset)
    if request.GET.get("format") == "csv":
        header = [
            _("Owner unit"),
            _("Division code"),
            _("Orders"),
            _("On time"),
            _("Overdue"),
            _("Open"),
            _("Open and overdue"),
        ]
        body = [
            [r.name, r.division_code, r.total, r.on_time, r.overdue, r.open, r.overdue_open] for r in rows
        ]
        response = HttpResponse(csv_text(header, body), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="supervision-orders-{stamp}.csv"'
        return response
    return render(
        request,
        "duty/orders_stats.html",
        {
            "rows": rows,
            "filters": filters,
            "scopes": [(key, services.SCOPES[key]) for key in services.scopes_for(user)],
            "priorities": OrderPriority.choices,
            "csv_query": _query(request, format="csv"),
            "totals": {
                "total": sum(r.total for r in rows),
                "on_time": sum(r.on_time for r in rows),
                "overdue": sum(r.overdue for r in rows),
                "open": sum(r.open for r in rows),
            },
        },
    )
