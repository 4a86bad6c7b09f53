"""Pages and API of notices (issue 8), routed by reviews/notice_urls.py.

Staff pages (login): the county and city review queues, the returned list, a notice with its
approve / reject / correct forms and its feedback, the feedback queue, the sub-unit follow-ups, the
templates (administrators), batch rules, the evaluation figures. Every read goes through
reviews.notices.notices_visible_to (tasks.selectors.visible_to): outside the territory → 404.

Public: the person's page `/n/<token>/` (the token is the only key: unknown or expired → 404), the
display board `/board/` (aggregate only), the inbound SMS webhook (HMAC-signed by the gateway).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks.access_log import record_access
from tasks.masking import mask_name, sees_unmasked
from tasks.models import AccessAction

from . import notice_rules, notices, sms
from .models_notices import Notice, NoticeCategory, NoticeFeedback, NoticeFollowUp, NoticeState

# --- forms ---------------------------------------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ResubmitForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=100)
    text = forms.CharField(label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 6}))
    urgent = forms.BooleanField(label=gettext_lazy("Urgent"), required=False)


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Answer to the person"), widget=forms.Textarea(attrs={"rows": 3})
    )
    corrected_text = forms.CharField(
        label=gettext_lazy("Corrected notice text (only when the notice was wrong)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class TemplateForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=100)
    body = forms.CharField(label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 8}))
    urgent = forms.BooleanField(label=gettext_lazy("Urgent by default"), required=False)


class RuleForm(forms.Form):
    rule = forms.ChoiceField(
        label=gettext_lazy("Rule"),
        choices=[("returnees_from_area", gettext_lazy("all returnees from a designated area"))],
    )
    area_code = forms.CharField(label=gettext_lazy("Designated area (division code)"), max_length=12)
    since = forms.DateField(label=gettext_lazy("Reported since"))


class FeedbackForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("What is wrong with this notice?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def _errors(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _staff(user) -> None:
    if not (user.is_superuser or user.role in notices.STAFF_ROLES):
        raise Http404


def _row(notice: Notice, unmasked: bool) -> dict:
    return {
        "id": notice.pk,
        "state": notice.state,
        "category": notice.category,
        "urgent": notice.urgent,
        "division": notice.division_id,
        "person": notice.person.name if unmasked else mask_name(notice.person.name),
        "title": notice.title,
        "submitted_at": notice.submitted_at,
        "push_due": notice.push_due,
    }


# --- staff pages -----------------------------------------------------------------------------------------


@login_required
@require_GET
def queue(request, level: str):
    _staff(request.user)
    rows = list(notices.review_queue(request.user, level)[:500])
    unmasked = sees_unmasked(request.user)
    if request.GET.get("format") == "json":
        return JsonResponse({"results": [_row(n, unmasked) for n in rows]})
    return render(
        request,
        "notices/queue.html",
        {
            "rows": rows,
            "level": level,
            "may_review": notices.can_review(request.user, level),
            "unmasked": unmasked,
            "title": _("County review of notices") if level == "county" else _("City review of notices"),
        },
    )


@login_required
@require_GET
def county_queue(request):
    return queue(request, "county")


@login_required
@require_GET
def city_queue(request):
    return queue(request, "city")


@login_required
@require_GET
def notice_list(request):
    _staff(request.user)
    queryset = notices.notices_visible_to(request.user).select_related("person", "division")
    state = request.GET.get("state")
    if state in NoticeState.values:
        queryset = queryset.filter(state=state)
    rows = list(queryset[:500])
    unmasked = sees_unmasked(request.user)
    if request.GET.get("format") == "json":
        return JsonResponse({"results": [_row(n, unmasked) for n in rows]})
    return render(
        request,
        "notices/list.html",
        {"rows": rows, "state": state, "states": NoticeState.choices, "unmasked": unmasked},
    )


@login_required
@require_GET
def returned(request):
    _staff(request.user)
    rows = list(notices.returned_to(request.user)[:500])
    unmasked = sees_unmasked(request.user)
    if request.GET.get("format") == "json":
        return JsonResponse({"results": [_row(n, unmasked) for n in rows]})
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
def detail(request, pk: int):
    _staff(request.user)
    notice = notices.get_notice_or_404(request.user, pk)
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
            "may_decide": bool(level) and notices.can_review(user, level),
            "may_correct": notice.state
            in (NoticeState.DRAFT, NoticeState.REJECTED_COUNTY, NoticeState.REJECTED_CITY)
            and (notice.submitted_by_id == user.pk or notices.can_review(user, "county")),
            "may_answer": notices.can_review(user, "county") or notices.can_review(user, "city"),
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


def _decide(request, pk: int, action):
    _staff(request.user)
    notice = notices.get_notice_or_404(request.user, pk)
    try:
        action(notice)
    except notices.NoticeConflict as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("notice_detail", pk=notice.pk)


@login_required
@require_POST
def approve(request, pk: int):
    def act(notice):
        notices.notice_approve(notice=notice, actor=request.user)
        messages.success(request, _("Approved."))

    return _decide(request, pk, act)


@login_required
@require_POST
def reject(request, pk: int):
    def act(notice):
        notices.notice_reject(notice=notice, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, _("Rejected: the notice went back to the submitter."))

    return _decide(request, pk, act)


@login_required
@require_POST
def resubmit(request, pk: int):
    def act(notice):
        form = ResubmitForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_("The title and the text are required."))
        notices.notice_resubmit(
            notice=notice,
            actor=request.user,
            title=form.cleaned_data["title"],
            text=form.cleaned_data["text"],
            urgent=form.cleaned_data["urgent"],
        )
        messages.success(request, _("Corrected and sent to the county desk again."))

    return _decide(request, pk, act)


@login_required
@require_GET
def feedback_queue(request):
    _staff(request.user)
    rows = list(
        notices.feedback_visible_to(request.user)
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
def feedback_answer(request, pk: int):
    _staff(request.user)
    try:
        feedback = notices.feedback_visible_to(request.user).get(pk=pk)
    except NoticeFeedback.DoesNotExist:
        raise Http404 from None
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write the answer to the person."))
    else:
        try:
            notices.feedback_answer(
                feedback=feedback,
                actor=request.user,
                answer=form.cleaned_data["answer"],
                corrected_text=form.cleaned_data["corrected_text"],
            )
            messages.success(request, _("Answered: the person sees the answer on the notice page."))
        except notices.NoticeConflict as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        except PermissionDenied as exc:
            messages.error(request, str(exc))
    return redirect(
        request.POST.get("back") == "detail" and f"/notices/{feedback.notice_id}/" or "notice_feedback_queue"
    )


@login_required
@require_GET
def follow_ups(request):
    rows = list(notices.follow_ups_visible_to(request.user).filter(done_at__isnull=True)[:500])
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
def follow_up_done(request, pk: int):
    try:
        follow_up = notices.follow_ups_visible_to(request.user).get(pk=pk)
    except NoticeFollowUp.DoesNotExist:
        raise Http404 from None
    try:
        notices.follow_up_done(follow_up=follow_up, actor=request.user, note=request.POST.get("note", ""))
        messages.success(request, _("Follow-up recorded."))
    except notices.NoticeConflict as exc:
        messages.error(request, exc.message)
    return redirect("notice_follow_ups")


@login_required
@require_GET
def templates(request):
    if not notices.can_edit_templates(request.user):
        raise PermissionDenied
    rows = [
        (category, label, *notices.templates_by_category()[category])
        for category, label in NoticeCategory.choices
    ]
    return render(request, "notices/templates.html", {"rows": rows, "variables": notice_rules.VARIABLES})


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request, category: str):
    if not notices.can_edit_templates(request.user):
        raise PermissionDenied
    if category not in NoticeCategory.values:
        raise Http404
    title, body, urgent = notices.template_for(category)
    form = TemplateForm(request.POST or None, initial={"title": title, "body": body, "urgent": urgent})
    if request.method == "POST" and form.is_valid():
        try:
            notices.template_save(actor=request.user, category=category, **form.cleaned_data)
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
            "variables": notice_rules.VARIABLES,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def rules_run(request):
    if not notices.can_run_rules(request.user):
        raise PermissionDenied
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        since = timezone.make_aware(datetime.combine(form.cleaned_data["since"], datetime.min.time()))
        try:
            count = notices.notices_generate_for_rule(
                rule=form.cleaned_data["rule"],
                area_code=form.cleaned_data["area_code"],
                since=since,
                actor=request.user,
            )
            messages.success(request, _("%(n)d notices created and sent to the county desk.") % {"n": count})
            return redirect("notice_queue_county")
        except ValidationError as exc:
            messages.error(request, _errors(exc))
    return render(request, "notices/rules.html", {"form": form})


def _period(request) -> tuple[datetime, datetime]:
    today = timezone.localdate()
    start = parse_date(request.GET.get("start") or "") or today - timedelta(days=29)
    end = parse_date(request.GET.get("end") or "") or today
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, datetime.min.time()), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()), tz),
    )


def _level(request) -> int:
    return {"city": 4, "county": 6, "township": 9}.get(request.GET.get("level", "county"), 6)


@login_required
@require_GET
def evaluation(request):
    _staff(request.user)
    start, end = _period(request)
    rows = notices.evaluation(
        user=request.user,
        start=start,
        end=end,
        division=request.GET.get("division") or None,
        level=_level(request),
    )
    if request.GET.get("format") == "json":
        return JsonResponse({"start": start, "end": end, "results": rows})
    return render(
        request,
        "notices/evaluation.html",
        {"rows": rows, "start": start.date(), "end": (end - timedelta(days=1)).date()},
    )


# --- the person's page (public, by token) ------------------------------------------------------------------------


def _person_context(notice: Notice, **extra) -> dict:
    return {
        "notice": notice,
        "token_path": "",
        "feedback": list(notice.feedback.order_by("created_at", "id")),
        "may_acknowledge": notice.state == NoticeState.PUSHED,
        "takes_feedback": notice.state in (NoticeState.PUSHED, NoticeState.ACKNOWLEDGED),
        "hotline": getattr(settings, "NOTICE_HOTLINE", "12320"),
        **extra,
    }


@require_GET
def person_page(request, token: str):
    notice = notices.notice_by_token(token)
    notices.notice_opened(notice=notice)
    response = render(
        request, "notices/person.html", _person_context(notice, token=token, form=FeedbackForm())
    )
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_POST
def person_acknowledge(request, token: str):
    notice = notices.notice_by_token(token)
    notices.notice_acknowledge(notice=notice, channel="popup")
    return redirect("notice_person", token=token)


@require_POST
def person_feedback(request, token: str):
    notice = notices.notice_by_token(token)
    form = FeedbackForm(request.POST)
    error = None
    if form.is_valid():
        try:
            notices.feedback_submit(notice=notice, text=form.cleaned_data["text"])
            return redirect("notice_person", token=token)
        except notices.NoticeConflict as exc:
            error = exc.message
        except ValidationError as exc:
            error = _errors(exc)
    response = render(
        request,
        "notices/person.html",
        _person_context(notice, token=token, form=form, error=error),
        status=400,
    )
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def board(request):
    return render(request, "notices/board.html", notices.board())


# --- inbound SMS webhook ---------------------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def sms_inbound(request):
    """POST {"from": "+8613900000000", "text": "1"} with X-Notice-Timestamp and
    X-Notice-Signature: sha256=HMAC-SHA256(NOTICE_SMS_INBOUND_SECRET, timestamp + "." + raw body)."""
    secret = getattr(settings, "NOTICE_SMS_INBOUND_SECRET", "")
    body = request.body
    if not sms.verify(
        secret,
        request.headers.get("X-Notice-Timestamp", ""),
        body,
        request.headers.get("X-Notice-Signature", ""),
        max_age=getattr(settings, "NOTICE_SMS_INBOUND_MAX_AGE_SECONDS", 300),
    ):
        return JsonResponse({"detail": "bad signature"}, status=403)
    try:
        data = json.loads(body or b"{}")
        sender, text = str(data["from"]), str(data.get("text", ""))
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest("expected JSON {from, text}")
    try:
        result = notices.sms_inbound(sender=sender, text=text)
    except (notices.NoticeConflict, ValidationError):
        result = {"result": "ignored"}
    return JsonResponse(result)


# --- staff API ------------------------------------------------------------------------------------------------------------


class NoticeSerializer(serializers.ModelSerializer):
    person_name = serializers.SerializerMethodField()

    class Meta:
        model = Notice
        fields = [
            "id",
            "state",
            "category",
            "source",
            "urgent",
            "title",
            "text",
            "division",
            "task",
            "person_name",
            "version",
            "submitted_at",
            "county_reviewer",
            "county_reviewed_at",
            "city_reviewer",
            "city_reviewed_at",
            "rejection_reason",
            "rejected_at",
            "approved_at",
            "push_after",
            "push_due",
            "pushed_at",
            "acknowledged_at",
            "ack_channel",
            "reminder_sent_at",
            "followed_up_at",
        ]

    def get_person_name(self, obj) -> str:
        request = self.context.get("request")
        return obj.person.name if request and sees_unmasked(request.user) else mask_name(obj.person.name)


class NoticeListApi(ListAPIView):
    """Notices of the caller's territory; ?state=county_review etc."""

    serializer_class = NoticeSerializer

    def get_queryset(self):
        queryset = (
            notices.notices_visible_to(self.request.user)
            .select_related("person")
            .order_by("-created_at", "-id")
        )
        state = self.request.query_params.get("state")
        return queryset.filter(state=state) if state else queryset


class NoticeDetailApi(RetrieveAPIView):
    serializer_class = NoticeSerializer

    def get_object(self):
        return notices.get_notice_or_404(self.request.user, self.kwargs["pk"])


class NoticeApproveApi(APIView):
    """County desk: pass to the city desk. City desk: approve for the push."""

    @extend_schema(request=None, responses={200: NoticeSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request, pk: int):
        notice = notices.get_notice_or_404(request.user, pk)
        try:
            notice = notices.notice_approve(notice=notice, actor=request.user)
        except PermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from None
        except notices.NoticeConflict as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=409)
        return Response(NoticeSerializer(notice, context={"request": request}).data)


class NoticeRejectionInput(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class NoticeRejectApi(APIView):
    """{"reason": "..."}: back to the submitter. The body is validated by NoticeRejectionInput (a body
    that is not an object, or a reason that is not text, is a 400 naming the field, not a 500)."""

    @extend_schema(
        request=inline_serializer("NoticeRejection", {"reason": serializers.CharField()}),
        responses={200: NoticeSerializer, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request, pk: int):
        notice = notices.get_notice_or_404(request.user, pk)
        data = NoticeRejectionInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            notice = notices.notice_reject(
                notice=notice, actor=request.user, reason=data.validated_data["reason"]
            )
        except PermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from None
        except ValidationError as exc:
            raise ApiValidationError(exc.message_dict) from None
        except notices.NoticeConflict as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=409)
        return Response(NoticeSerializer(notice, context={"request": request}).data)


class NoticeEvaluationApi(APIView):
    """?start=YYYY-MM-DD&end=YYYY-MM-DD&level=county|city|township&division=<code prefix>"""

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE),
            OpenApiParameter("end", OpenApiTypes.DATE),
            OpenApiParameter("level", str, enum=["county", "city", "township"]),
            OpenApiParameter("division", str),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        if not (request.user.is_superuser or request.user.role in notices.STAFF_ROLES):
            raise NotFound
        start, end = _period(request)
        rows = notices.evaluation(
            user=request.user,
            start=start,
            end=end,
            division=request.query_params.get("division") or None,
            level=_level(request),
        )
        return Response({"start": start, "end": end, "results": rows})
