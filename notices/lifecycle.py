"""The personal data of notices to people, declared to the lifecycle registry of the base app
(tasks/lifecycle.py, docs/lifecycle.md); registered from the notices' AppConfig.ready().

The purge blanks what was written to the person from their data (the text and the values it was
rendered from: the masked name, the measure and its dates, the county), the keyed hash of the number it
went to, what the person wrote back and the desk's answer, and the follow-up's note. Title, category,
states and times stay: what was sent, not to whom.
"""

from __future__ import annotations

from notices.models import BoardMessage, Notice, NoticeFeedback, NoticeFollowUp, NoticeTemplate
from tasks import lifecycle
from tasks.blind_index import Rehashed, rehash_person_phone
from tasks.personal_data import dash


def _rehash_notices(model, *, batch_size: int, log) -> Rehashed:
    # The number a notice's SMS went to is not stored, only its hash (the person's at push,
    # notices/services/push.py): recomputed from the person's current phone.
    return rehash_person_phone(
        model,
        person_join="LEFT JOIN tasks_person p ON p.id = t.person_id",
        batch_size=batch_size,
        log=log,
        what="notices",
    )


def register() -> None:
    of_notices = f"notice_id IN (SELECT id FROM {Notice._meta.db_table} WHERE person_id IN ({{persons}}))"
    lifecycle.register(
        Notice,
        where="person_id IN ({persons})",
        clear={
            "text": "''",
            "variables": "'{}'::jsonb",
            "phone_hash": "''",
            "rejection_reason": dash("rejection_reason"),  # a rejected notice keeps "-" (its CHECK)
        },
        counter="notices",
        keep={"title": "the template's title: what was sent, not to whom"},
        rehash=_rehash_notices,
    )
    lifecycle.register(
        NoticeFeedback,
        where=of_notices,
        # an answered feedback keeps "-", which its CHECK constraint needs
        clear={"text": "''", "answer": dash("answer")},
        counter="notices",
    )
    lifecycle.register(NoticeFollowUp, where=of_notices, clear=["note"])
    lifecycle.register(NoticeTemplate, exempt="templates with placeholders; no person's data")
    lifecycle.register(
        BoardMessage,
        exempt="the public display board: about areas, validated to hold no ID or phone number",
    )
