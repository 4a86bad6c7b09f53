"""Panels the apps built on reports add to the duty dashboard (`/dashboard/`), without reports importing
them (dependencies point one way: duty → reports → …).

An upper app registers a panel in its `AppConfig.ready()`; the dashboard renders every registered panel
below its tiles, in the order registered. A panel decides itself whether the reader may see it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

# `panel(request, root)` -> the panel's HTML for the reader of `request` over the division `root` (the
# dashboard's division, inside the reader's scope), or "" to show nothing.
DashboardPanel = Callable[[HttpRequest, str], str]

_panels: dict[str, DashboardPanel] = {}


def register_dashboard_panel(name: str, panel: DashboardPanel) -> None:
    """Registering the same name again replaces the panel (ready() may run twice in tests)."""
    _panels[name] = panel


def dashboard_panels(request: HttpRequest, root: str) -> list[SafeString]:
    """The HTML of every registered panel the reader is shown (rendered by Django templates, so safe)."""
    out = []
    for panel in _panels.values():
        html = panel(request, root)
        if html:
            out.append(SafeString(html))
    return out
