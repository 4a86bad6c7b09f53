"""The likely-duplicate queue for duty officers (docs/people.md): each pair with its evidence, merged
through the task merge or dismissed as "not the same person"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .. import duplicates
from ..access_log import record_access
from ..models import AccessAction, Division
from ..roles import can


def _require(request: HttpRequest) -> None:
    if not can(request.user, "task.merge"):
        raise PermissionDenied


@login_required
@require_GET
def duplicate_queue(request: HttpRequest) -> HttpResponse:
    from ..api.duplicates import describe_pairs

    _require(request)
    page = Paginator(duplicates.candidates_visible_to(request.user), 25).get_page(request.GET.get("page"))
    rows, shown = describe_pairs(request.user, list(page.object_list))
    if shown:
        record_access(request, action=AccessAction.VIEW, objects=shown, fields=["name"])
    names = dict(
        Division.objects.filter(
            code__in={row[side]["division_code"] for row in rows for side in ("person_a", "person_b")}
        ).values_list("code", "name")
    )
    for row in rows:
        row["rule_labels"] = row["reasons"]
        row["pair"] = [row["person_a"], row["person_b"]]
        for person in row["pair"]:
            person["division_name"] = names.get(person["division_code"], "")
    return render(request, "tasks/duplicates.html", {"rows": rows, "page": page})


@login_required
@require_POST
def duplicate_decide(request: HttpRequest, candidate_id: int) -> HttpResponse:
    _require(request)
    candidate = get_object_or_404(duplicates.candidates_visible_to(request.user), pk=candidate_id)
    try:
        if request.POST.get("decision") == "dismiss":
            duplicates.duplicate_dismiss(candidate=candidate, actor=request.user)
            messages.success(
                request, _("Marked as not the same person; this pair will not be proposed again.")
            )
        else:
            keep = request.POST.get("keep", "")
            task = duplicates.duplicate_merge(
                candidate=candidate,
                keep_person_id=int(keep) if keep.isdigit() else -1,
                actor=request.user,
                reason=request.POST.get("reason", ""),
            )
            messages.success(request, _("Merged into task T%(id)s.") % {"id": task.pk})
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("duplicate_queue")


@login_required
@require_POST
def duplicate_scan(request: HttpRequest) -> HttpResponse:
    _require(request)
    result = duplicates.find_duplicates()
    if result.ran:
        messages.success(request, _("Search finished: %(count)s new pairs.") % {"count": result.proposed})
    else:
        messages.error(request, _("A search is already running; try again in a minute."))
    return redirect("duplicate_queue")
