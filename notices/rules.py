"""The rules of notices: which variables a template may use, the default zh-hans templates per
risk category, how a notice's category follows from the task's leads, the batch rules, and the
checks that keep a notice free of the resident ID number and of detailed addresses.

Templates are zh-hans *data* (administrators edit them), not msgids. A variable is written `{name}`;
only the names in VARIABLES exist. There is deliberately no variable for the ID number, the phone, or
an address: `validate_template_text` refuses any other `{…}` (and names the forbidden ones), and
`render` checks the finished text again (`assert_no_identifiers`), so neither an edited template nor
an odd value can put them in a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

from .models import NoticeCategory

# name → what it is (shown on the template editing page).
VARIABLES: dict[str, StrOrPromise] = {
    "name": gettext_lazy("the person's name, masked after the first character (张**)"),
    "measure": gettext_lazy("the measure (居家隔离, 集中隔离, 健康监测)"),
    "days": gettext_lazy("number of days of the measure"),
    "start_date": gettext_lazy("first day of the measure"),
    "end_date": gettext_lazy("last day of the measure"),
    "test_days": gettext_lazy("the test dates (11月20日、11月22日)"),
    "area": gettext_lazy("the designated area the rule is about (a division name, never an address)"),
    "county": gettext_lazy("the person's county"),
    "desk": gettext_lazy("the responsible county duty desk"),
    "hotline": gettext_lazy("the hotline (setting NOTICE_HOTLINE)"),
}
# Never available, and named in the error when a template tries them.
FORBIDDEN = {
    "id_number",
    "id",
    "idcard",
    "id_card",
    "identity",
    "resident_id",
    "身份证",
    "身份证号",
    "address",
    "addr",
    "home_address",
    "detail_address",
    "住址",
    "地址",
    "phone",
    "mobile",
    "手机号",
    "电话号码",
}

TOKEN = re.compile(r"\{([^{}]*)\}")
# A resident ID (18 or 15 digits), a mainland mobile number.
ID_PATTERN = re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15})(?![\dXx])")
PHONE_PATTERN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

MEASURE_TEXT = {
    "centralised_quarantine": "集中隔离",
    "home_quarantine": "居家隔离",
    "health_monitoring": "健康监测",
    "none": "健康监测",
}

DEFAULT_TEMPLATES: dict[str, dict] = {
    NoticeCategory.CLOSE_CONTACT: {
        "title": "密切接触者管控告知",
        "urgent": True,
        "body": (
            "{name}您好：经流行病学调查，您被判定为新冠肺炎密切接触者。请您立即停止外出，原地居家等候，"
            "不要乘坐公共交通工具，{desk}工作人员将与您联系并安排{measure}{days}天（{start_date}至{end_date}），"
            "并请于{test_days}配合核酸检测。如有发热、咳嗽等症状或任何疑问，请拨打{hotline}。"
        ),
    },
    NoticeCategory.HIGH_RISK_RETURNEE: {
        "title": "高风险地区返回人员健康提示",
        "urgent": False,
        "body": (
            "{name}您好：您近期从{area}（高风险地区）返回{county}。请于{test_days}到就近采样点接受核酸检测，"
            "{days}天内每日自我监测体温和症状，减少外出、不参加聚集活动。"
            "如出现发热、咳嗽等症状，请立即拨打{hotline}，不要自行前往医院。"
        ),
    },
    NoticeCategory.RED_CODE: {
        "title": "健康码红码告知",
        "urgent": True,
        "body": (
            "{name}您好：您的健康码为红码，表示您需要接受{measure}。请不要外出，不要进入公共场所或乘坐公共交通工具。"
            "完成{days}天{measure}（至{end_date}）且{test_days}的核酸检测结果均为阴性后，"
            "由{desk}核实解除，红码即转为绿码。咨询电话：{hotline}。"
        ),
    },
    NoticeCategory.YELLOW_CODE: {
        "title": "健康码黄码告知",
        "urgent": False,
        "body": (
            "{name}您好：您的健康码为黄码，表示您需要进行健康监测并完成核酸检测。请于{test_days}到就近采样点检测，"
            "结果均为阴性后黄码转为绿码。期间请减少外出、避免聚集。咨询电话：{hotline}。"
        ),
    },
    NoticeCategory.HEALTH_MONITORING: {
        "title": "健康监测告知",
        "urgent": False,
        "body": (
            "{name}您好：根据流行病学调查结果，请您自{start_date}起进行{days}天健康监测，每日测量体温，"
            "并于{test_days}接受核酸检测。如有不适请拨打{hotline}。"
        ),
    },
}


# --- validation ------------------------------------------------------------------------------------


def template_variables(text: str) -> list[str]:
    return [match.strip() for match in TOKEN.findall(text)]


def validate_template_text(text: str, *, field: str = "body") -> None:
    """Only `{variable}` for the names in VARIABLES; no stray braces; no ID-like or phone-like numbers
    written into the template itself."""
    errors = []
    for name in template_variables(text):
        if name.lower() in FORBIDDEN or any(
            word in name.lower() for word in ("id_number", "address", "idcard", "phone")
        ):
            errors.append(
                _(
                    "A notice may never contain “%(name)s”: the ID number, phone and address are not available."
                )
                % {"name": name}
            )
        elif name not in VARIABLES:
            errors.append(
                _("Unknown variable {%(name)s}. Available: %(names)s.")
                % {"name": name, "names": ", ".join(VARIABLES)}
            )
    if TOKEN.sub("", text).count("{") or TOKEN.sub("", text).count("}"):
        errors.append(_("Unbalanced braces: write variables as {name}."))
    if ID_PATTERN.search(text) or PHONE_PATTERN.search(text):
        errors.append(_("The text contains a number that looks like an ID or mobile number."))
    if errors:
        raise ValidationError({field: errors})


def validate_board_text(text: str) -> None:
    """Display-board text is public: nothing that identifies a person."""
    if ID_PATTERN.search(text) or PHONE_PATTERN.search(text) or TOKEN.search(text):
        raise ValidationError({"text": _("The display board shows aggregate, non-personal messages only.")})


def secrets_of(person_id_number: str, *addresses: str) -> list[str]:
    """The values of a person a notice must never contain (checked by `assert_no_identifiers`)."""
    return [person_id_number, *addresses]


class NoticeUnsafe(ValueError):
    """The rendered text would contain an ID number, a phone number or a detailed address."""


def assert_no_identifiers(text: str, *, secrets: list[str]) -> None:
    if ID_PATTERN.search(text) or PHONE_PATTERN.search(text):
        raise NoticeUnsafe("the notice would contain an ID-like or phone-like number")
    for secret in secrets:
        secret = (secret or "").strip()
        if len(secret) >= 4 and secret in text:
            raise NoticeUnsafe("the notice would contain personal data")


# --- rendering -------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        return "居民"
    return name[0] + "*" * max(1, len(name) - 1)


def _day(d: date) -> str:
    return f"{d.month}月{d.day}日"


@dataclass
class Rendered:
    title: str
    text: str
    variables: dict


def safe_value(value) -> str:
    """A variable's value: no braces (no second substitution), no identifiers."""
    text = str(value if value is not None else "").replace("{", "").replace("}", "")
    text = ID_PATTERN.sub("***", text)
    return PHONE_PATTERN.sub("***", text)


def render(title: str, body: str, values: dict, *, secrets: list[str]) -> Rendered:
    """Substitute `values` (only VARIABLES) into the template; refuse a result with identifiers."""
    values = {key: safe_value(values.get(key, "")) for key in VARIABLES}

    def substitute(match):
        return values.get(match.group(1).strip(), "")

    out_title, out_text = TOKEN.sub(substitute, title), TOKEN.sub(substitute, body)
    assert_no_identifiers(out_title + "\n" + out_text, secrets=secrets)
    return Rendered(out_title, out_text, values)


def variables_for(
    *,
    person_name: str,
    measure: str = "",
    measure_days: int = 0,
    start: datetime | None = None,
    test_days: list[int] | None = None,
    area: str = "",
    county: str = "",
    desk: str = "",
) -> dict:
    start_day = timezone.localtime(start or timezone.now()).date()
    days = measure_days or settings.NOTICE_DEFAULT_MONITORING_DAYS
    tests = test_days or [1]
    return {
        "name": mask_name(person_name),
        "measure": MEASURE_TEXT.get(measure, measure or "健康监测"),
        "days": days,
        "start_date": _day(start_day),
        "end_date": _day(start_day + timedelta(days=days - 1)),
        "test_days": "、".join(_day(start_day + timedelta(days=n - 1)) for n in sorted(set(tests))),
        "area": area,
        "county": county,
        "desk": desk or "县（区）疫情防控指挥部",
        "hotline": settings.NOTICE_HOTLINE,
    }


# --- category from the task's leads ------------------------------------------------------------------

# The first source found decides (the most serious first).
CATEGORY_BY_SOURCE = [
    ("close_contact", NoticeCategory.CLOSE_CONTACT),
    ("red_code", NoticeCategory.RED_CODE),
    ("returnee", NoticeCategory.HIGH_RISK_RETURNEE),
    ("yellow_code", NoticeCategory.YELLOW_CODE),
]


def category_for(sources: list[str] | None, measure: str) -> str:
    present = set(sources or [])
    for source, category in CATEGORY_BY_SOURCE:
        if source in present:
            return category
    if measure in ("centralised_quarantine", "home_quarantine"):
        return NoticeCategory.CLOSE_CONTACT
    return NoticeCategory.HEALTH_MONITORING


# --- batch rules -------------------------------------------------------------------------------------

# Batch rules generate notices for a *set* of persons in one statement (notices/services/generation.py
# notices_generate_for_rule). "returnees_from_area": every person with a returnee lead whose origin
# (lead.payload["origin_division"], the division code the port-of-entry registration records) lies in
# the designated area, reported since `since`.
BATCH_RULES = {
    "returnees_from_area": {
        "category": NoticeCategory.HIGH_RISK_RETURNEE,
        "board_text": "近期从{area}返回的人员，请主动向所在社区（村）报备，并按要求接受核酸检测和健康监测。",
    },
}
