"""Notice rules (issue 8): templates can never reference the ID number or an address, and no rendered
notice contains them, whatever the template and the person's data (property-style, hypothesis)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from notices import rules
from notices.models import NoticeCategory, NoticeTemplate


@pytest.mark.parametrize(
    "name", ["id_number", "address", "phone", "身份证号", "home_address", "person.id_number", "id_number!r"]
)
def test_a_template_cannot_reference_identifiers(name):
    with pytest.raises(ValidationError):
        rules.validate_template_text("您好 {" + name + "}")


@pytest.mark.parametrize(
    "text",
    ["{unknown}", "{name", "name}", "{name.__class__}", "身份证 46010519800101123X", "电话 13912345678"],
)
def test_a_template_with_unknown_variables_stray_braces_or_numbers_is_refused(text):
    with pytest.raises(ValidationError):
        rules.validate_template_text(text)


def test_the_default_templates_are_valid_and_cover_every_category():
    assert set(rules.DEFAULT_TEMPLATES) == set(NoticeCategory.values)
    for template in rules.DEFAULT_TEMPLATES.values():
        rules.validate_template_text(template["title"])
        rules.validate_template_text(template["body"])


def test_the_model_refuses_a_forbidden_template(db):
    with pytest.raises(ValidationError):
        NoticeTemplate(category="red_code", title="红码", body="{name} 身份证 {id_number}").full_clean()


variable = st.sampled_from(sorted(rules.VARIABLES)).map(lambda v: "{" + v + "}")
fragment = st.text(
    alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=12
)
template = st.lists(st.one_of(variable, fragment), max_size=12).map("".join)
digits = st.text(alphabet="0123456789", min_size=17, max_size=17)


@hsettings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=template,
    id17=digits,
    check=st.sampled_from("0123456789X"),
    address=st.text(min_size=6, max_size=30).filter(lambda s: s.strip() and "{" not in s),
    name=st.text(min_size=0, max_size=6),
    area=st.text(max_size=20),
)
def test_no_rendered_notice_contains_the_id_number_or_the_address(body, id17, check, address, name, area):
    id_number = id17 + check
    # The person's data may even leak into the values the caller passes (a name field holding the ID,
    # an area holding the address): the rendered text must still not contain them.
    values = rules.variables_for(person_name=name + id_number, area=area + address, county=address[:3])
    try:
        rules.validate_template_text(body)
    except ValidationError:
        return  # a template that does not validate is never saved
    try:
        rendered = rules.render("通知", body, values, secrets=[id_number, address])
    except rules.NoticeUnsafe:
        return  # refused: nothing is sent
    assert id_number not in rendered.text
    assert address.strip() not in rendered.text or len(address.strip()) < 4
    assert not rules.ID_PATTERN.search(rendered.text)


def test_every_default_template_renders_without_identifiers():
    values = rules.variables_for(
        person_name="王小明",
        measure="home_quarantine",
        measure_days=14,
        test_days=[1, 3, 7],
        area="武汉市",
        county="秀英区",
        desk="秀英区值班台",
    )
    for category, template in rules.DEFAULT_TEMPLATES.items():
        rendered = rules.render(
            template["title"], template["body"], values, secrets=["46010519800101123X", "长德村3巷18号"]
        )
        assert "{" not in rendered.text and "王小明" not in rendered.text, category
        assert "王**" in rendered.text


@pytest.mark.parametrize(
    ("sources", "measure", "category"),
    [
        (["returnee", "close_contact"], "home_quarantine", "close_contact"),
        (["red_code"], "home_quarantine", "red_code"),
        (["returnee", "yellow_code"], "health_monitoring", "high_risk_returnee"),
        (["yellow_code"], "health_monitoring", "yellow_code"),
        ([], "centralised_quarantine", "close_contact"),
        ([], "none", "health_monitoring"),
    ],
)
def test_the_category_follows_the_most_serious_source(sources, measure, category):
    assert rules.category_for(sources, measure) == category


def test_board_text_must_not_identify_anyone():
    rules.validate_board_text("近期从武汉市返回的人员请主动报备。")
    with pytest.raises(ValidationError):
        rules.validate_board_text("王小明 13912345678 请报备")
