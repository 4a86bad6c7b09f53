"""Public pages: the person's page `/n/<token>/` (the token is the only key: unknown or expired → 404),
the display board `/board/` (aggregate only), the inbound SMS webhook (HMAC-signed by the gateway)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .. import figures, links, sms
from ..errors import NoticeConflict
from ..forms import FeedbackForm
from ..models import Notice, NoticeState
from ..services import person
from .common import errors_text


def _person_context(notice: Notice, **extra: Any) -> dict[str, Any]:
    return {
        "notice": notice,
        "token_path": "",
        "feedback": list(notice.feedback.order_by("created_at", "id")),
        "may_acknowledge": notice.state == NoticeState.PUSHED,
        "takes_feedback": notice.state in (NoticeState.PUSHED, NoticeState.ACKNOWLEDGED),
        "hotline": settings.NOTICE_HOTLINE,
        **extra,
    }


@require_GET
def person_page(request: HttpRequest, token: str) -> HttpResponse:
    notice = links.notice_by_token(token)
    person.notice_opened(notice=notice)
    response = render(
        request, "notices/person.html", _person_context(notice, token=token, form=FeedbackForm())
    )
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_POST
def person_acknowledge(request: HttpRequest, token: str) -> HttpResponse:
    notice = links.notice_by_token(token)
    person.notice_acknowledge(notice=notice, channel="popup")
    return redirect("notice_person", token=token)


@require_POST
def person_feedback(request: HttpRequest, token: str) -> HttpResponse:
    notice = links.notice_by_token(token)
    form = FeedbackForm(request.POST)
    error = None
    if form.is_valid():
        try:
            person.feedback_submit(notice=notice, text=form.cleaned_data["text"])
            return redirect("notice_person", token=token)
        except NoticeConflict as exc:
            error = exc.message
        except ValidationError as exc:
            error = errors_text(exc)
    response = render(
        request,
        "notices/person.html",
        _person_context(notice, token=token, form=form, error=error),
        status=400,
    )
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def board(request: HttpRequest) -> HttpResponse:
    return render(request, "notices/board.html", figures.board())


# --- inbound SMS webhook ---------------------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """POST {"from": "+8613900000000", "text": "1", "id": "<gateway message id>"} with X-Notice-Timestamp
    and X-Notice-Signature: sha256=HMAC-SHA256(NOTICE_SMS_INBOUND_SECRET, timestamp + "." + raw body).
    `id` is optional; with it, a message the gateway delivers again is not counted twice."""
    secret = settings.NOTICE_SMS_INBOUND_SECRET
    body = request.body
    if not sms.verify(
        secret,
        request.headers.get("X-Notice-Timestamp", ""),
        body,
        request.headers.get("X-Notice-Signature", ""),
        max_age=settings.NOTICE_SMS_INBOUND_MAX_AGE_SECONDS,
    ):
        return JsonResponse({"detail": "bad signature"}, status=403)
    try:
        data = json.loads(body or b"{}")
        sender, text = str(data["from"]), str(data.get("text", ""))
        message_id = str(data.get("id") or "")[:100]
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest("expected JSON {from, text}")
    try:
        result = person.sms_inbound(sender=sender, text=text, message_id=message_id)
    except (NoticeConflict, ValidationError):
        result = {"result": "ignored"}
    return JsonResponse(result)
