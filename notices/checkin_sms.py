"""The check-in reminder SMS to a monitored person, with their personal check-in link (/c/<token>/).

The monitoring clock calls `person_reminders` (registered on monitoring.hooks.on_person_reminders) in
the transaction of its sweep: one CheckInSms row per period and day is queued in one INSERT … SELECT
(ON CONFLICT DO NOTHING: a second sweep queues nothing), due at once or at the end of the quiet hours
(a reminder is never sent at night, like a normal notice). The outbox sends them as the
"checkin_sms" flow, through the same SMS backend as the notices.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection

from monitoring.links import checkin_link, token_for, token_hash
from monitoring.models import CheckInSms, MonitoringPeriod
from monitoring.models.periods import OPEN_STATES
from tasks.outbox import Flow, Message, backoff_minutes
from tasks.outbox.backends import BaseBackend

from . import sms
from .schedule import later, out_of_quiet_hours


def sms_text(row: CheckInSms) -> str:
    sign_name = settings.NOTICE_SMS_SIGNATURE
    link = checkin_link(row.period)
    return (
        f"【{sign_name}】健康监测提醒：请今天报告体温和身体状况。打开 {link} 填写，"
        "或直接回复体温和症状（如“36.5”“36.8 咳嗽”“正常”）。"
    )


def _store_token_hashes(period_ids: list[int]) -> None:
    """The link's token hash of each period reminded by SMS (its person has a phone) that has none yet,
    in one UPDATE (the token is derived with a key the database does not hold, so it is computed here).
    Once per period: the later reminders find it set."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT p.id, p.person_id, p.starts_on FROM {MonitoringPeriod._meta.db_table} p
                JOIN tasks_person person ON person.id = p.person_id
                WHERE p.id = ANY(%s) AND p.link_token_hash = '' AND person.phone_hash <> ''""",
            [list(period_ids)],
        )
        rows = cursor.fetchall()
        if not rows:
            return
        hashes = [
            token_hash(token_for(MonitoringPeriod(pk=pk, person_id=person_id, starts_on=starts_on)))
            for pk, person_id, starts_on in rows
        ]
        cursor.execute(
            f"""UPDATE {MonitoringPeriod._meta.db_table} AS p SET link_token_hash = t.hash
                FROM unnest(%s::bigint[], %s::text[]) AS t(id, hash)
                WHERE p.id = t.id AND p.link_token_hash = ''""",
            [[row[0] for row in rows], hashes],
        )


def person_reminders(*, period_ids: list[int], day: date, now: datetime) -> int:
    """Queue the day's reminder SMS of these periods (persons with a phone only). Returns how many."""
    _store_token_hashes(period_ids)
    due = out_of_quiet_hours(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {CheckInSms._meta.db_table}
                    (period_id, day, phone_hash, status, attempts, created_at, next_attempt_at, last_error, gateway_id)
                SELECT p.id, %s, person.phone_hash, 'pending', 0, %s, %s, '', ''
                FROM {MonitoringPeriod._meta.db_table} p
                JOIN tasks_person person ON person.id = p.person_id
                WHERE p.id = ANY(%s) AND p.state = ANY(%s) AND person.phone_hash <> ''
                ON CONFLICT (period_id, day) DO NOTHING""",
            [day, now, due, list(period_ids), [str(s) for s in OPEN_STATES] + ["lost_contact"]],
        )
        return cursor.rowcount


class CheckInSmsFlow(Flow):
    name = "checkin_sms"
    model = CheckInSms
    related = ("period", "period__person")
    fields = ("status", "attempts", "sent_at", "last_error", "next_attempt_at", "gateway_id")

    def max_attempts(self) -> int:
        return int(settings.NOTICE_SMS_MAX_ATTEMPTS)

    def late_cutoff(self) -> timedelta:
        return timedelta(minutes=settings.NOTICE_SMS_LATE_CUTOFF_MINUTES)

    def cancel_reason(self, row: CheckInSms) -> str | None:
        if row.period.state not in (*OPEN_STATES, "lost_contact"):
            return "not needed any more: the person is no longer monitored"
        if row.period.last_checkin_at and row.period.due_day and row.period.due_day > row.day:
            return "not needed any more: the person has checked in"
        if not row.period.person.phone:
            return "no phone"
        return None

    def backend(self, channel: str) -> BaseBackend:
        return sms.get_backend()

    def message(self, row: CheckInSms) -> Message:
        return Message(row.pk, "sms", row.period.person.phone, "", sms_text(row))

    def retry_at(self, row: CheckInSms, now: datetime) -> datetime:
        return later(now, backoff_minutes(row.attempts), False)


FLOW = CheckInSmsFlow()
