"""The viewer's watermark on pages (and, later, PDFs) that show personal data (issue 9).

A photo or screenshot of a screen shows who was looking and when. Pages get it from base.html
(`{% block watermark %}`, on by default for every logged-in page); a PDF renderer calls
`watermark_text(user, now)` and tiles the text itself.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

# How many times the text repeats over the screen (a grid of rotated lines, see static/css/security.css).
TILES = 48


def watermark_text(user, now: datetime | None = None) -> str:
    """`王五 · wangwu · 2026-11-01 16:05` (local time of the deployment)."""
    now = timezone.localtime(now or timezone.now())
    display = getattr(user, "display_name", "") or user.get_username()
    return f"{display} · {user.get_username()} · {now:%Y-%m-%d %H:%M}"
