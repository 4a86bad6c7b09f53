"""Review pages (issue 6): the queue (/reviews/) and the review of one submission (/reviews/<id>/) with
its claim, assign, comment, return and approve forms. Small function views: each fetches through the
selectors (outside the expert's territory: 404), calls one service, and redirects back with a message.
Only CDC experts reach these pages (other roles: 403)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tasks.access_log import record_access
from tasks.masking import sees_unmasked
from tasks.models import AccessAction, CloseContact, ContactAttempt, RadiusControl, TestResult, User
from tasks.roles import can

from . import services
from .fieldwork_adapter import KIND_BY_MODEL, kind_of, live_entries
from .forms import ApproveForm, AssignForm, CommentForm, ReturnForm
from .models import DisposalProposal, Review, ReviewState
from .selectors import QueueAnnotations, get_review_or_404, review_detail, review_queue, reviews_of_task

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def _require_expert(user) -> None:
    if not can(user, "review.decide"):
        raise PermissionDenied(_("Only a CDC expert reviews investigations."))


# The pages of one review need no role check of their own: get_review_or_404 finds nothing for a role
# that does not review (reviews_visible_to), so they answer 404 as for a review outside the territory.


def waiting_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    return _("%(d)d days %(h)d h") % {"d": hours // 24, "h": hours % 24}


@dataclass
class QueueRow:
    """A review of the queue and how long it has waited, as text; the template reads the review's own
    fields through it."""

    review: WithAnnotations[Review, QueueAnnotations]
    waiting_label: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.review, name)


@login_required
@require_GET
def queue(request):
    _require_expert(request.user)
    rows = [
        QueueRow(review, waiting_text(review.waiting.total_seconds()))
        for review in review_queue(request.user)[:500]
    ]
    if request.GET.get("format") == "json":
        # The same rows for scripts and the route walker; the full API is /api/v1/reviews/.
        return JsonResponse(
            {
                "results": [
                    {
                        "id": row.review.pk,
                        "task": row.review.task_id,
                        "priority": row.review.task.priority,
                        "state": row.review.state,
                        "waiting_seconds": int(row.review.waiting.total_seconds()),
                        "errors": row.review.errors,
                        "warnings": row.review.warnings,
                    }
                    for row in rows
                ]
            }
        )
    if rows:
        record_access(request, action=AccessAction.VIEW, objects=[row.task for row in rows], fields=["name"])
    return render(
        request,
        "reviews/queue.html",
        {
            "rows": rows,
            "unmasked": sees_unmasked(request.user),
            "lead": services.is_lead_expert(request.user),
        },
    )


class Annotated:
    """A field record with the findings and comments that point at it."""

    def __init__(self, obj, kind, findings, comments):
        self.obj = obj
        self.kind = kind
        self.findings = findings
        self.comments = comments

    @property
    def worst(self) -> str:
        severities = {f.severity for f in self.findings}
        for severity in ("error", "warning", "info"):
            if severity in severities:
                return severity
        return ""


def _by_target(rows) -> dict:
    grouped = defaultdict(list)
    for row in rows:
        grouped[(kind_of(row.target_type_id), row.target_id)].append(row)
    return grouped


def _experts_for(review) -> list[User]:
    candidates = User.objects.filter(is_active=True, role="cdc_expert").order_by("full_name", "username")[
        :200
    ]
    return [expert for expert in candidates if services.sees_task(expert, review.task_id)]


def _context(request, review, *, return_form=None, approve_form=None, comment_form=None) -> dict:
    review = review_detail(review)
    task = review.task
    all_comments = list(task.review_comments.select_related("author", "review").order_by("created_at", "id"))
    findings = list(review.findings.all())
    for finding in findings:
        kind = kind_of(finding.target_type_id)
        finding.anchor = f"{kind}-{finding.target_id}" if kind else ""
    findings_by = _by_target(findings)
    comments_by = _by_target(all_comments)
    entries = list(live_entries(task))

    def annotate(objs):
        result = []
        for obj in objs:
            kind = KIND_BY_MODEL[type(obj)]
            result.append(
                Annotated(obj, kind, findings_by.get((kind, obj.pk), []), comments_by.get((kind, obj.pk), []))
            )
        return result

    trajectory = annotate(entries)
    points = [
        {
            "id": e.pk,
            "n": index + 1,
            "lat": float(e.latitude),
            "lon": float(e.longitude),
            "place": e.place_name,
            "from": timezone.localtime(e.started_at).strftime("%m-%d %H:%M"),
            "until": timezone.localtime(e.ended_at).strftime("%m-%d %H:%M"),
            "severity": item.worst,
        }
        for index, (e, item) in enumerate(zip(entries, trajectory, strict=True))
        if e.latitude is not None and e.longitude is not None
    ]
    is_open = review.state in (ReviewState.PENDING, ReviewState.CLAIMED)
    holder = review.state == ReviewState.PENDING or review.expert_id == request.user.pk
    can_act = is_open and holder and task.status == "submitted"
    lead = services.is_lead_expert(request.user)
    return {
        "review": review,
        "task": task,
        "person": task.person,
        "unmasked": sees_unmasked(request.user),
        "task_findings": findings_by.get((None, None), []),
        "findings": findings,
        "trajectory": trajectory,
        "points": points,
        "contacts": annotate(CloseContact.objects.filter(task=task).order_by("last_contact_at", "id")),
        "tests": annotate(TestResult.objects.filter(task=task).order_by("sampled_at", "id")),
        "attempts": annotate(
            ContactAttempt.objects.filter(task=task)
            .select_related("created_by")
            .order_by("attempted_at", "id")
        ),
        "radius_controls": RadiusControl.objects.filter(task=task)
        .select_related("division")
        .order_by("controlled_at", "id"),
        "task_comments": comments_by.get((None, None), []),
        "all_comments": all_comments,
        "history": task.transitions.select_related("actor").order_by("at", "id"),
        "rounds": reviews_of_task(task.pk),
        "disposal": DisposalProposal.objects.filter(review=review).prefetch_related("risk_areas").first(),
        "is_open": is_open,
        "can_act": can_act,
        "claimed_by_other": is_open and not holder,
        "lead": lead,
        "assign_form": AssignForm(experts=_experts_for(review)) if lead and is_open else None,
        "comment_form": comment_form or CommentForm(),
        "return_form": return_form or ReturnForm(),
        "approve_form": approve_form or ApproveForm(entries=entries),
        "map_tile_url": settings.MAP_TILE_URL,
        "map_tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "waiting_label": waiting_text((timezone.now() - review.submitted_at).total_seconds()),
    }


@login_required
@require_GET
def detail(request, pk: int):
    review = get_review_or_404(request.user, pk)
    context = _context(request, review)
    # A read of personal data (the person, the close contacts): recorded after it is authorised.
    record_access(
        request, action=AccessAction.VIEW, objects=[review.task, *(item.obj for item in context["contacts"])]
    )
    return render(request, "reviews/review.html", context)


def _fail(request, exc) -> None:
    if isinstance(exc, ValidationError):
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.error(request, str(exc))


@login_required
@require_POST
def claim(request, pk: int):
    review = get_review_or_404(request.user, pk)
    try:
        services.review_claim(review=review, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("You are reviewing this task."))
    return redirect("review_detail", pk=review.pk)


@login_required
@require_POST
def assign(request, pk: int):
    review = get_review_or_404(request.user, pk)
    expert = (
        User.objects.filter(pk=request.POST.get("expert") or 0).first()
        if str(request.POST.get("expert", "")).isdigit()
        else None
    )
    if expert is None:
        messages.error(request, _("Choose an expert."))
        return redirect("review_detail", pk=review.pk)
    try:
        services.review_assign(review=review, actor=request.user, expert=expert)
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("Assigned to %(expert)s.") % {"expert": expert.display_name})
    return redirect("review_detail", pk=review.pk)


@login_required
@require_POST
def comment(request, pk: int):
    review = get_review_or_404(request.user, pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.review_comment(
                review=review,
                actor=request.user,
                body=form.cleaned_data["body"],
                target_kind=form.cleaned_data.get("target_kind") or None,
                target_id=form.cleaned_data.get("target_id"),
            )
        except (ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("Comment saved."))
    else:
        messages.error(request, _("Write the comment."))
    anchor = (
        f"#{form.data.get('target_kind')}-{form.data.get('target_id')}"
        if form.data.get("target_id")
        else "#comments"
    )
    return redirect(f"{request.path.rsplit('/comment/', 1)[0]}/{anchor}")


@login_required
@require_POST
def return_task(request, pk: int):
    review = get_review_or_404(request.user, pk)
    form = ReturnForm(request.POST)
    if form.is_valid():
        try:
            services.review_return(review=review, actor=request.user, reasons=form.cleaned_data["reasons"])
        except (ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("The task was returned to the field team."))
            return redirect("review_queue")
    return render(request, "reviews/review.html", _context(request, review, return_form=form), status=400)


@login_required
@require_POST
def approve(request, pk: int):
    review = get_review_or_404(request.user, pk)
    form = ApproveForm(request.POST, entries=list(live_entries(review.task)))
    if form.is_valid():
        try:
            services.review_approve(
                review=review,
                actor=request.user,
                disposal=form.disposal(),
                reasons=form.cleaned_data.get("reasons", ""),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                _fail(request, exc)
        except PermissionDenied as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("The task was approved and the disposal proposed."))
            return redirect("review_queue")
    return render(request, "reviews/review.html", _context(request, review, approve_form=form), status=400)
