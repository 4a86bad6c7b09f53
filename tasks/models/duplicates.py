"""Likely duplicates: pairs of open persons that may be one person, proposed by the duplicate job
(tasks/duplicates.py) for a duty officer to merge or dismiss. A dismissed pair keeps its row, so the
job never proposes it again."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DuplicateRule(models.TextChoices):
    SAME_PHONE = "same_phone", _("same phone, similar name")
    PINYIN_NAME_SAME_VILLAGE = "pinyin_name_same_village", _("same name sound in the same village")
    ID_LEARNED_LATER = "id_learned_later", _("an ID number learned later")
    SAME_NAME_BIRTH_DATE = "same_name_birth_date", _("same name and birth date from the ID")


class DuplicateState(models.TextChoices):
    OPEN = "open", _("to review")
    MERGED = "merged", _("merged")
    DISMISSED = "dismissed", _("not the same person")


class DuplicateCandidate(models.Model):
    # Both persons are in scope when both have an open task in the viewer's territory (see selectors).
    person_a = models.ForeignKey(
        "tasks.Person", verbose_name=_("person"), on_delete=models.CASCADE, related_name="+"
    )
    person_b = models.ForeignKey(
        "tasks.Person", verbose_name=_("possible same person"), on_delete=models.CASCADE, related_name="+"
    )
    rules = models.JSONField(_("why"), default=list)
    # Non-identifying evidence only: which rules, whether the names are written the same, the village.
    evidence = models.JSONField(_("evidence"), default=dict)
    state = models.CharField(_("state"), max_length=10, choices=DuplicateState.choices, default="open")
    created_at = models.DateTimeField(_("found at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("likely duplicate")
        verbose_name_plural = _("likely duplicates")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="duplicate_pair_once"),
            models.CheckConstraint(condition=Q(person_a__lt=F("person_b")), name="duplicate_pair_ordered"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="duplicate_open", condition=Q(state="open")),
            models.Index(fields=["person_b"], name="duplicate_person_b"),
        ]

    def __str__(self) -> str:
        return f"{self.person_a_id} ~ {self.person_b_id} ({self.state})"
