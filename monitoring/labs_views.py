"""The unmatched lab results queue of the duty officers (docs/labs.md): results the blind index could
not match wait here, in the territory of the lab account that sent them; the officer finds the person
(by ID number, phone or name, through the blind index and within their territory, like /search/) and
matches the result, or rejects it with a reason. Every page that shows a result's identity is logged."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from tasks.access_log import record_access
from tasks.masking import mask_id_number, mask_name, mask_phone, sees_unmasked
from tasks.models import AccessAction
from tasks.roles import can
from tasks.selectors import get_visible_or_404, visible_to
from tasks.views.search import MAX_RESULTS, parse_query, search_tasks

from .models import LabResult, MatchState
from .services.labs import match_result, reject_result

PAGE_SIZE = 50
MAX_REASON = 500


def _require(user) -> None:
    if not can(user, "labresult.match"):
        raise PermissionDenied


def _identity(result: LabResult, unmasked: bool) -> dict:
    return {
        "name": result.name if unmasked else mask_name(result.name),
        "id_number": result.id_number if unmasked else mask_id_number(result.id_number),
        "phone": result.phone if unmasked else mask_phone(result.phone),
    }


@never_cache
@login_required
def lab_queue(request: HttpRequest) -> HttpResponse:
    _require(request.user)
    queryset = visible_to(
        request.user, LabResult.objects.filter(match_state=MatchState.UNMATCHED).select_related("division")
    ).order_by("received_at", "id")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    results = list(page.object_list)
    if results:
        record_access(
            request, action=AccessAction.VIEW, objects=results, fields=["name", "id_number", "phone"]
        )
    unmasked = sees_unmasked(request.user)
    # The match page's search starts from the lab's ID number (else phone), for the roles that may see it.
    rows = [
        {"result": r, "q": (r.id_number or r.phone) if unmasked else "", **_identity(r, unmasked)}
        for r in results
    ]
    return render(request, "monitoring/lab_queue.html", {"page": page, "rows": rows, "results": results})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def lab_result_match(request: HttpRequest, result_id: int) -> HttpResponse:
    """One unmatched result: find the person and match it (POST person), or reject it (lab_result_reject)."""
    _require(request.user)
    result = get_visible_or_404(request.user, LabResult.objects.select_related("division"), pk=result_id)
    if request.method == "POST":
        if result.match_state != MatchState.UNMATCHED:
            messages.error(request, _("This result was already matched or rejected."))
            return redirect("lab_queue")
        raw_person = request.POST.get("person", "")
        q = request.POST.get("q", "")
        query = parse_query(q)
        # Only a person the officer found in their own territory (the same search) can be chosen.
        allowed = (
            set(search_tasks(request.user, query).values_list("person_id", flat=True)[:MAX_RESULTS])
            if query is not None
            else set()
        )
        if not raw_person.isdigit() or int(raw_person) not in allowed:
            messages.error(request, _("Choose a person from the search results."))
            return redirect(f"{request.path}?q={q}")
        match_result(result_id=result.pk, person_id=int(raw_person), by=request.user)
        messages.success(request, _("Result matched; its effects are applied."))
        return redirect("lab_queue")
    unmasked = sees_unmasked(request.user)
    record_access(request, action=AccessAction.VIEW, objects=[result], fields=["name", "id_number", "phone"])
    q = request.GET.get("q", "")
    query = parse_query(q)
    candidates: list[dict] = []
    if query is not None:
        found = list(
            search_tasks(request.user, query)
            .select_related("person", "division")
            .order_by("-created_at", "-id")[:MAX_RESULTS]
        )
        if found:
            record_access(
                request,
                action=AccessAction.VIEW,
                objects=found,
                fields=["name", "id_number", "phone"],
                reason=_("lab result match: search by %(kind)s") % {"kind": query.kind},
            )
        seen: set[int] = set()
        for task in found:
            if task.person_id in seen:
                continue
            seen.add(task.person_id)
            person = task.person
            candidates.append(
                {
                    "person": person,
                    "task": task,
                    "name": person.name if unmasked else mask_name(person.name),
                    "id_number": person.id_number if unmasked else mask_id_number(person.id_number),
                    "phone": person.phone if unmasked else mask_phone(person.phone),
                }
            )
    return render(
        request,
        "monitoring/lab_result_match.html",
        {
            "result": result,
            "identity": _identity(result, unmasked),
            "q": q,
            "searched": query is not None,
            "candidates": candidates,
            "open": result.match_state == MatchState.UNMATCHED,
        },
    )


@login_required
@require_POST
def lab_result_reject(request: HttpRequest, result_id: int) -> HttpResponse:
    _require(request.user)
    result = get_visible_or_404(request.user, LabResult.objects.all(), pk=result_id)
    reason = (request.POST.get("reason") or "").strip()
    if not reason:
        messages.error(request, _("Give the reason for rejecting the result."))
        return redirect("lab_result_match", result_id=result.pk)
    if reject_result(result_id=result.pk, reason=reason[:MAX_REASON], by=request.user):
        messages.success(request, _("Result rejected."))
    else:
        messages.error(request, _("This result was already matched or rejected."))
    return redirect("lab_queue")
