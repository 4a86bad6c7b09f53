"""The personal data of expert review, declared to the lifecycle registry of the base app
(tasks/lifecycle.py, docs/lifecycle.md); registered from ReviewsConfig.ready().

A decision (the review with its reasons, the disposal and the risk areas decided with it) cannot be
changed (migration 0002: whoever checks is responsible) and is kept whole. The comments experts write on
the entries and the automatic findings quote the trajectory and the close contacts: the purge blanks
them with the task's field records.
"""

from __future__ import annotations

from tasks import lifecycle
from tasks.crypto import rotate_json_keys

from .models import DisposalProposal, Finding, Review, ReviewComment, RiskAreaDesignation

DECISION = (
    "part of a decision nobody may change (whoever checks is responsible, migration 0002); it speaks "
    "of the work, the person's data is in the field records"
)


def register() -> None:
    lifecycle.register(
        ReviewComment,
        where="task_id IN ({tasks})",
        clear={"body": "'-'"},  # a comment is never empty (its CHECK constraint)
    )
    lifecycle.register(
        Finding,
        where="task_id IN ({tasks}) AND params ? 'name'",
        # A close contact's name; the places are the trajectory's public place names, which stay.
        clear={"params": lifecycle.scrub_json_keys("params", {"name": "''"})},
        reencrypt=rotate_json_keys,
    )
    lifecycle.register(Review, exempt=DECISION)
    lifecycle.register(DisposalProposal, exempt=DECISION)
    lifecycle.register(
        RiskAreaDesignation,
        exempt="a published risk area (a public place and its address), decided with the review: " + DECISION,
    )
