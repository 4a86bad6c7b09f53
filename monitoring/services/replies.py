"""Reading a person's SMS reply to the check-in reminder: "36.5", "36.8 咳嗽", "正常".

`parse_reply` returns the check-in it describes, or None when the text is not one (it then stays the
notices' feedback, as before)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from ..models import Symptom

# Longest words first: "喉咙痛" before any shorter word inside it.
SYMPTOM_WORDS: tuple[tuple[str, str], ...] = (
    ("喉咙痛", Symptom.SORE_THROAT),
    ("嗓子痛", Symptom.SORE_THROAT),
    ("咽痛", Symptom.SORE_THROAT),
    ("发热", Symptom.FEVER),
    ("发烧", Symptom.FEVER),
    ("咳嗽", Symptom.COUGH),
    ("嗅觉", Symptom.LOSS_OF_SMELL_TASTE),
    ("味觉", Symptom.LOSS_OF_SMELL_TASTE),
)
NORMAL_WORDS = ("正常", "无症状", "没有症状", "良好", "无异常")
# Words around a temperature or a "normal" that say nothing more.
FILLER = ("体温", "今天", "今日", "谢谢", "度", "℃", "°C", "°", "无", "没有", "好", "了", "是", "我")
TEMPERATURE = re.compile(r"(?<![\d.])(3[4-9]|4[0-3])(?:[.,。．](\d))?(?![\d])")
PUNCTUATION = re.compile(r"[\s,，.。．;；:：!！?？、~\-—]+")


@dataclass
class ParsedReply:
    temperature: Decimal | None = None
    symptoms: list[str] = field(default_factory=list)
    normal: bool = False


def parse_reply(text: str) -> ParsedReply | None:
    rest = (text or "").strip()
    if not rest or len(rest) > 160:
        return None
    reply = ParsedReply()
    match = TEMPERATURE.search(rest)
    if match:
        reply.temperature = Decimal(f"{match.group(1)}.{match.group(2) or '0'}")
        rest = rest[: match.start()] + " " + rest[match.end() :]
    for word, symptom in SYMPTOM_WORDS:
        if word in rest:
            if symptom not in reply.symptoms:
                reply.symptoms.append(symptom)
            rest = rest.replace(word, " ")
    for word in NORMAL_WORDS:
        if word in rest:
            reply.normal = True
            rest = rest.replace(word, " ")
    if reply.temperature is None and not reply.symptoms and not reply.normal:
        return None
    for word in FILLER:
        rest = rest.replace(word, " ")
    rest = PUNCTUATION.sub("", rest)
    if rest:
        # Something else was said beside a temperature or a symptom: an other symptom, for a person to read.
        reply.symptoms.append(Symptom.OTHER)
    return reply


# Check-in idempotency keys of SMS replies: derived from the gateway's message id, so that a gateway
# that delivers the same inbound message again gets the check-in already stored instead of a second one.
SMS_KEY_NAMESPACE = uuid.UUID("6f1b8d4e-2c57-4a8e-9a43-5d0c7e1f3b21")


def sms_idempotency_key(
    message_id: str, *, phone_hash: str = "", day=None, text: str = ""
) -> uuid.UUID | None:
    """From the gateway's message id; without one, from the sender, the local day and the words: a
    redelivery without an id cannot be told from the same reply sent twice, and both say the same
    thing, so the day keeps one of them (a different reply is a check-in of its own)."""
    message_id = (message_id or "").strip()
    if message_id:
        return uuid.uuid5(SMS_KEY_NAMESPACE, f"sms:{message_id}")
    words = PUNCTUATION.sub(" ", (text or "").strip()).strip()
    if not (phone_hash and day and words):
        return None
    return uuid.uuid5(SMS_KEY_NAMESPACE, f"sms-text:{phone_hash}:{day.isoformat()}:{words}")


def checkin_from_sms(*, phone_hash: str, text: str, message_id: str = "", now=None) -> dict | None:
    """A reply from the number a check-in reminder went to (matched by its keyed hash) that reads as a
    check-in becomes one (channel sms). None when the number got no reminder of a monitored period or
    the text is not a check-in: the caller treats it as before. `message_id`, the gateway's id of the
    inbound message, makes a redelivery answer the check-in already stored (`"duplicate": true`);
    without it, the same words from the same number on the same day do (sms_idempotency_key)."""
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from ..clock import local_day
    from ..models import CheckInChannel, CheckInSms, PeriodState
    from ..models.periods import OPEN_STATES
    from .checkins import record_checkin

    if not phone_hash:
        return None
    now = now or timezone.now()
    reminder = (
        CheckInSms.objects.filter(
            phone_hash=phone_hash,
            period__state__in=[*OPEN_STATES, PeriodState.LOST_CONTACT],
        )
        .order_by("-day", "-id")
        .first()
    )
    if reminder is None:
        return None
    reply = parse_reply(text)
    if reply is None:
        return None
    try:
        result = record_checkin(
            reminder.period_id,
            channel=CheckInChannel.SMS,
            temperature=reply.temperature,
            symptoms=reply.symptoms,
            note=text.strip()[:200],
            idempotency_key=sms_idempotency_key(
                message_id, phone_hash=phone_hash, day=local_day(now), text=text
            ),
            now=now,
        )
    except ValidationError:
        return None
    answer = {"result": "checkin", "checkin": result.checkin.pk, "abnormal": result.checkin.abnormal}
    if not result.created:
        answer["duplicate"] = True
    return answer
