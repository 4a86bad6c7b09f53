"""Staff pages of the desks around the review: the feedback queue and its answers, the sub-unit
follow-ups, the templates (administrators), the batch rules, the evaluation figures."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import figures, permissions, rules, selectors
from ..errors import NoticeConflict
from ..forms import AnswerForm, RuleForm, TemplateForm
from ..models import NoticeCategory, NoticeFeedback, NoticeFollowUp
from ..services import generation, person, push
from ..services import templates as template_services
from .common import actor_of, errors_text, level_of, period_of, require_staff


@login_required
@require_GET
def feedback_queue(request: HttpRequest) -> HttpResponse:
    require_staff(request.user)
    rows = list(
        selectors.feedback_visible_to(request.user)
        .filter(state=NoticeFeedback.State.OPEN)
        .order_by("due_at", "id")[:500]
    )
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "results": [
                    {"id": f.pk, "notice": f.notice_id, "due_at": f.due_at, "text": f.text} for f in rows
                ]
            }
        )
    return render(
        request,
        "notices/feedback_queue.html",
        {"rows": rows, "answer_form": AnswerForm(), "now": timezone.now()},
    )


@login_required
@require_POST
def feedback_answer(request: HttpRequest, pk: int) -> HttpResponse:
    require_staff(request.user)
    try:
        feedback = selectors.feedback_visible_to(request.user).get(pk=pk)
    except NoticeFeedback.DoesNotExist:
        raise Http404 from None
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write the answer to the person."))
    else:
        try:
            person.feedback_answer(
                feedback=feedback,
                actor=actor_of(request),
                answer=form.cleaned_data["answer"],
                corrected_text=form.cleaned_data["corrected_text"],
            )
            messages.success(request, _("Answered: the person sees the answer on the notice page."))
        except NoticeConflict as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, errors_text(exc))
        except PermissionDenied as exc:
            messages.error(request, str(exc))
    return redirect(
        request.POST.get("back") == "detail" and f"/notices/{feedback.notice_id}/" or "notice_feedback_queue"
    )


@login_required
@require_GET
def follow_ups(request: HttpRequest) -> HttpResponse:
    rows = list(selectors.follow_ups_visible_to(request.user).filter(done_at__isnull=True)[:500])
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "results": [
                    {"id": f.pk, "notice": f.notice_id, "division": f.division_id, "created_at": f.created_at}
                    for f in rows
                ]
            }
        )
    return render(request, "notices/follow_ups.html", {"rows": rows})


@login_required
@require_POST
def follow_up_done(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        follow_up = selectors.follow_ups_visible_to(request.user).get(pk=pk)
    except NoticeFollowUp.DoesNotExist:
        raise Http404 from None
    try:
        push.follow_up_done(follow_up=follow_up, actor=actor_of(request), note=request.POST.get("note", ""))
        messages.success(request, _("Follow-up recorded."))
    except NoticeConflict as exc:
        messages.error(request, exc.message)
    return redirect("notice_follow_ups")


@login_required
@require_GET
def templates(request: HttpRequest) -> HttpResponse:
    if not permissions.can_edit_templates(request.user):
        raise PermissionDenied
    rows = [
        (category, label, *selectors.templates_by_category()[category])
        for category, label in NoticeCategory.choices
    ]
    return render(request, "notices/templates.html", {"rows": rows, "variables": rules.VARIABLES})


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, category: str) -> HttpResponse:
    if not permissions.can_edit_templates(request.user):
        raise PermissionDenied
    if category not in NoticeCategory.values:
        raise Http404
    title, body, urgent = selectors.template_for(category)
    form = TemplateForm(request.POST or None, initial={"title": title, "body": body, "urgent": urgent})
    if request.method == "POST" and form.is_valid():
        try:
            template_services.template_save(actor=actor_of(request), category=category, **form.cleaned_data)
            messages.success(request, _("Template saved."))
            return redirect("notice_templates")
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    return render(
        request,
        "notices/template_edit.html",
        {
            "form": form,
            "category": NoticeCategory(category).label,
            "variables": rules.VARIABLES,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def rules_run(request: HttpRequest) -> HttpResponse:
    if not permissions.can_run_rules(request.user):
        raise PermissionDenied
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        since = timezone.make_aware(datetime.combine(form.cleaned_data["since"], datetime.min.time()))
        try:
            count = generation.notices_generate_for_rule(
                rule=form.cleaned_data["rule"],
                area_code=form.cleaned_data["area_code"],
                since=since,
                actor=actor_of(request),
            )
            messages.success(request, _("%(n)d notices created and sent to the county desk.") % {"n": count})
            return redirect("notice_queue_county")
        except ValidationError as exc:
            messages.error(request, errors_text(exc))
    return render(request, "notices/rules.html", {"form": form})


@login_required
@require_GET
def evaluation(request: HttpRequest) -> HttpResponse:
    require_staff(request.user)
    start, end = period_of(request)
    rows = figures.evaluation(
        user=request.user,
        start=start,
        end=end,
        division=request.GET.get("division") or None,
        level=level_of(request),
    )
    if request.GET.get("format") == "json":
        return JsonResponse({"start": start, "end": end, "results": rows})
    return render(
        request,
        "notices/evaluation.html",
        {"rows": rows, "start": start.date(), "end": (end - timedelta(days=1)).date()},
    )
