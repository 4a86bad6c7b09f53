"""The count of open monitoring alerts beside "Monitoring alerts" in the navigation (duty desk, CDC
experts, command): counted only when the navigation shows the link (one indexed count)."""

from __future__ import annotations


def monitoring(request):
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {}

    def count() -> int:
        from .pages import _may_read_alerts, open_alert_count

        return open_alert_count(user) if _may_read_alerts(user) else 0

    return {"monitoring_open_alerts": count}
