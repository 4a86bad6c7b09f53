"""Staff pages of the two-level review: the county and city queues, all notices, the returned list, a
notice with its approve / reject / correct forms. Every read goes through
notices.selectors.notices_visible_to (tasks.selectors.visible_to): outside the territory → 404."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tasks.access_log import record_access
from tasks.masking import sees_unmasked
from tasks.models import AccessAction

from .. import permissions, selectors
from ..errors import NoticeConflict
from ..forms import AnswerForm, RejectForm, ResubmitForm
from ..models import Notice, NoticeFollowUp, NoticeState
from ..services import review
from .common import actor_of, errors_text, log_reads, require_staff, row_of


@login_required
@require_GET
def queue(request: HttpRequest, level: str) -> HttpResponse:
    require_staff(request.user)
    rows = list(selectors.review_queue(request.user, level)[:500])
    log_reads(request, rows)
    unmasked = sees_unmasked(request.user)
    if request.GET.get("format") == "json":
        return JsonResponse({"results": [row_of(n, unmasked) for n in rows]})
    return render(
        request,
        "notices/queue.html",
        {
            "rows": rows,
            "level": level,
            "may_review": permissions.can_review(request.user, level),
            "unmasked": unmasked,
            "title": _("County review of notices") if level == "county" else _("City review of notices"),
        },
    )


@login_required
@require_GET
def county_queue(request: HttpRequest) -> HttpResponse:
    return queue(request, "county")


@login_required
@require_GET
def city_queue(request: HttpRequest) -> HttpResponse:
    return queue(request, "city")


@login_required
@require_GET
def notice_list(request: HttpRequest) -> HttpResponse:
    require_staff(request.user)
    queryset = selectors.notices_visible_to(request.user).select_related("person", "division", "task")
    state = request.GET.get("state")
    if state in NoticeState.values:
        queryset = queryset.filter(state=state)
    rows = list(queryset[:500])
    log_reads(request, rows)
    unmasked = sees_unmasked(request.user)
    if request.GET.get("format") == "json":
        return JsonResponse({"results": [row_of(n, unmasked) for n in rows]})
    return render(
        request,
        "notices/list.html",
        {"rows": rows, "state": state, "states": NoticeState.choices, "unmasked": unmasked},
    )


@login_required
@require_GET
def returned(request: HttpRequest) -> HttpResponse:
    require_staff(request.user)
    rows = list(selectors.returned_to(request.user)[:500])
    log_reads(request, rows)
    unmasked = sees_unmasked(request.user)
    if request.GET.get("format") == "json":
        return JsonResponse({"results": [row_of(n, unmasked) for n in rows]})
    return render(
        request,
        "notices/queue.html",
        {
            "rows": rows,
            "level": "returned",
            "title": _("Notices returned for correction"),
            "unmasked": unmasked,
        },
    )


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_staff(request.user)
    notice = selectors.get_notice_or_404(request.user, pk)
    record_access(
        request, action=AccessAction.VIEW, objects=[notice.task] if notice.task_id else [notice.person]
    )
    user = request.user
    level = (
        "county"
        if notice.state == NoticeState.COUNTY_REVIEW
        else "city"
        if notice.state == NoticeState.CITY_REVIEW
        else None
    )
    return render(
        request,
        "notices/detail.html",
        {
            "notice": notice,
            "unmasked": sees_unmasked(user),
            "may_decide": level is not None and permissions.can_review(user, level),
            "may_correct": notice.state
            in (NoticeState.DRAFT, NoticeState.REJECTED_COUNTY, NoticeState.REJECTED_CITY)
            and (notice.submitted_by_id == user.pk or permissions.can_review(user, "county")),
            "may_answer": permissions.can_review(user, "county") or permissions.can_review(user, "city"),
            "reject_form": RejectForm(),
            "resubmit_form": ResubmitForm(
                initial={"title": notice.title, "text": notice.text, "urgent": notice.urgent}
            ),
            "answer_form": AnswerForm(),
            "feedback": list(notice.feedback.select_related("answered_by")),
            "deliveries": list(notice.deliveries.all()),
            "follow_up": NoticeFollowUp.objects.filter(notice=notice).first(),
        },
    )


def _decide(request: HttpRequest, pk: int, action: Callable[[Notice], None]) -> HttpResponse:
    require_staff(request.user)
    notice = selectors.get_notice_or_404(request.user, pk)
    try:
        action(notice)
    except NoticeConflict as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, errors_text(exc))
    return redirect("notice_detail", pk=notice.pk)


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    def act(notice: Notice) -> None:
        review.notice_approve(notice=notice, actor=actor_of(request))
        messages.success(request, _("Approved."))

    return _decide(request, pk, act)


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    def act(notice: Notice) -> None:
        review.notice_reject(notice=notice, actor=actor_of(request), reason=request.POST.get("reason", ""))
        messages.success(request, _("Rejected: the notice went back to the submitter."))

    return _decide(request, pk, act)


@login_required
@require_POST
def resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    def act(notice: Notice) -> None:
        form = ResubmitForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_("The title and the text are required."))
        review.notice_resubmit(
            notice=notice,
            actor=actor_of(request),
            title=form.cleaned_data["title"],
            text=form.cleaned_data["text"],
            urgent=form.cleaned_data["urgent"],
        )
        messages.success(request, _("Corrected and sent to the county desk again."))

    return _decide(request, pk, act)
