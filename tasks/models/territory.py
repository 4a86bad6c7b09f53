"""The five-level territory: province → city → county → township → village.

Codes are the statistical division codes with only their significant digits (2, 4, 6, 9 or 12), as in
shared/data/divisions. Because a code always starts with its parent's code, "everything under 460105"
is the prefix query `code LIKE '460105%'`, served by a varchar_pattern_ops B-tree index on every table
that hangs off the territory: no recursive Python, no recursive SQL.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    PROVINCE = "province", _("province")
    CITY = "city", _("city")
    COUNTY = "county", _("county")
    TOWNSHIP = "township", _("township")
    VILLAGE = "village", _("village")


# Keyed by Level; a level read as plain text (a file, a query parameter) finds its entry too.
CODE_LENGTH: dict[str, int] = {
    Level.PROVINCE: 2,
    Level.CITY: 4,
    Level.COUNTY: 6,
    Level.TOWNSHIP: 9,
    Level.VILLAGE: 12,
}
LEVEL_BY_LENGTH = {length: level for level, length in CODE_LENGTH.items()}
LEVEL_DEPTH: dict[str, int] = {level: depth for depth, level in enumerate(CODE_LENGTH, start=1)}


def normalize_code(raw: str) -> str:
    """Return the significant-digit form of a division code, or raise ValueError saying why not.

    Accepts both the significant form (`4601`) and the NBS 12-digit padded form (`460100000000`).
    """
    code = (raw or "").strip()
    if not code.isdigit() or not code.isascii():
        raise ValueError(_("a division code has only digits"))
    if len(code) == 12:
        for length in (2, 4, 6, 9):
            if code[length:] == "0" * (12 - length):
                return code[:length]
        return code
    if len(code) not in LEVEL_BY_LENGTH:
        raise ValueError(_("a division code has 2, 4, 6, 9 or 12 digits"))
    return code


class Division(models.Model):
    code = models.CharField(_("code"), max_length=12, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        verbose_name = _("division")
        verbose_name_plural = _("divisions")
        ordering = ["code"]
        # Subtree queries (code LIKE 'prefix%') use the varchar_pattern_ops index Django creates for a
        # character primary key (tasks_division_code_..._like).
        indexes = [
            models.Index(fields=["level", "name"], name="division_level_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(level="province", code__regex=r"^\d{2}$")
                    | models.Q(level="city", code__regex=r"^\d{4}$")
                    | models.Q(level="county", code__regex=r"^\d{6}$")
                    | models.Q(level="township", code__regex=r"^\d{9}$")
                    | models.Q(level="village", code__regex=r"^\d{12}$")
                ),
                name="division_code_length_matches_level",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def depth(self) -> int:
        return LEVEL_DEPTH[self.level]

    def ancestor_codes(self) -> list[str]:
        """Codes of this division and every ancestor, from the province down."""
        return [self.code[:length] for length in (2, 4, 6, 9, 12) if length <= len(self.code)]

    def ancestors(self):
        return Division.objects.filter(code__in=self.ancestor_codes()).order_by("code")

    def path_name(self) -> str:
        return " / ".join(d.name for d in self.ancestors())

    def contains(self, code: str) -> bool:
        return code.startswith(self.code)
