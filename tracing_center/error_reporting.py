"""What error pages and error mails show: Django's filter, plus passwords inside URLs.

Django hides settings whose *names* look secret (…KEY, …PASSWORD, …TOKEN); a URL setting such as
REDIS_URL, CELERY_BROKER_URL or DATABASE_URL has an innocent name and carries its password inside the
value, and the development server copies the environment (DATABASE_URL, …) into request.META. Any
`scheme://user:password@host` in a setting, a META value or a local variable of the traceback is shown
with the password replaced.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter as DjangoFilter

_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)(?P<password>[^\s@/]+)(?P<at>@)")


def cleanse_url_passwords(value: Any, substitute: str = DjangoFilter.cleansed_substitute) -> Any:
    if isinstance(value, str) and "://" in value:
        return _URL_PASSWORD.sub(lambda m: f"{m['head']}{substitute}{m['at']}", value)
    return value


class SafeExceptionReporterFilter(DjangoFilter):
    def cleanse_setting(self, key: Any, value: Any) -> Any:
        return cleanse_url_passwords(super().cleanse_setting(key, value), self.cleansed_substitute)

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        return {key: cleanse_url_passwords(value, self.cleansed_substitute) for key, value in meta.items()}

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [
            (name, cleanse_url_passwords(value, self.cleansed_substitute))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
