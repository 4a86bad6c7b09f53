"""POST /api/v1/leads/, GET /api/v1/batches/, GET /api/v1/tasks/ (scoped, masked, filtered)."""

from unittest import mock

import pytest

from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import IntakeBatch, Lead, LeadRejection, Priority, Role
from tests.factories import UserFactory
from tests.intake_helpers import CHANGDONG_VILLAGE, HOME_VILLAGE, OTHER_COUNTY_VILLAGE, lead, resident_id

LEADS = "/api/v1/leads/"
TASKS = "/api/v1/tasks/"


# Request the test database statically: a test that reaches it only through the `hainan` fixture
# would otherwise run against the development database (pytest-django sets up databases only for
# tests that need them at collection time).
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_dispatch():
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
    ):
        yield


@pytest.fixture
def as_user(api_client):
    def login(user):
        api_client.force_authenticate(user)
        api_client.credentials(HTTP_ACCEPT_LANGUAGE="en")
        return api_client

    return login


def post(client, rows):
    return client.post(LEADS, rows, format="json")


def test_it_accepts_valid_leads_and_rejects_invalid_ones_row_by_row(as_user, duty_officer):
    client = as_user(duty_officer)
    rows = [lead(), lead(id_number="110105194912310023", external_id="bad-1"), lead()]
    response = post(client, rows)
    assert response.status_code == 201
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert body["rejected"] == [
        {"index": 1, "external_id": "bad-1", "errors": {"id_number": ["check digit should be X, got 3"]}}
    ]
    assert Lead.objects.count() == 2
    rejection = LeadRejection.objects.get()
    assert rejection.row_index == 1 and rejection.created_by == duty_officer and rejection.channel == "api"


def test_a_resend_is_counted_as_duplicates_not_new_leads(as_user, duty_officer):
    client = as_user(duty_officer)
    rows = [lead(), lead()]
    assert post(client, rows).json()["accepted"] == 2
    response = post(client, rows)
    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert Lead.objects.count() == 2


def test_a_row_repeated_in_the_same_request_is_a_duplicate(as_user, duty_officer):
    row = lead()
    body = post(as_user(duty_officer), [row, dict(row)]).json()
    assert (body["accepted"], body["duplicates"]) == (1, 1)


def test_the_same_external_id_from_two_sources_is_two_leads(as_user, duty_officer):
    body = post(
        as_user(duty_officer),
        [lead(external_id="X1", source="red_code"), lead(external_id="X1", source="big_data")],
    ).json()
    assert body["accepted"] == 2


def test_more_than_ten_thousand_leads_is_refused_with_a_clear_error(as_user, duty_officer):
    response = post(as_user(duty_officer), [{}] * 10_001)
    assert response.status_code == 400
    assert "at most 10,000 leads per request, got 10,001" in response.json()["errors"]["non_field_errors"][0]
    assert LeadRejection.objects.count() == 0


def test_the_body_must_be_a_list(as_user, duty_officer):
    response = post(as_user(duty_officer), {"source": "red_code"})
    assert response.status_code == 400


def test_field_staff_may_not_post_leads(as_user, field_staff):
    assert post(as_user(field_staff), [lead()]).status_code == 403
    assert Lead.objects.count() == 0


def test_anonymous_callers_may_not_post_leads(api_client, hainan):
    assert post(api_client, [lead()]).status_code in (401, 403)


def test_ten_thousand_leads_in_one_request(as_user, duty_officer):
    rows = [lead() for _ in range(10_000)]
    body = post(as_user(duty_officer), rows).json()
    assert body["accepted"] == 10_000


# --- batches ---------------------------------------------------------------------------------------------


def test_batches_list_their_counts(as_user, duty_officer):
    ingest_rows([lead(), lead()], channel="api")
    batch = intake_run()
    body = as_user(duty_officer).get("/api/v1/batches/").json()
    assert body["results"][0]["id"] == batch.id
    assert body["results"][0]["leads"] == 2 and body["results"][0]["new_tasks"] == 2
    assert (
        as_user(duty_officer).get(f"/api/v1/batches/{batch.id}/").json()["status"]
        == IntakeBatch.Status.FINISHED
    )


# --- tasks -----------------------------------------------------------------------------------------------


@pytest.fixture
def tasks_in_two_counties(hainan):
    ingest_rows(
        [
            lead(
                source="red_code",
                id_number="11010519491231002X",
                phone="13912341234",
                name="张三丰",
                address="秀英区秀华路8号",
                division_code=HOME_VILLAGE,
            ),
            lead(source="hotline", division_code="460105", address="长流镇长东村"),
            lead(source="big_data", division_code=OTHER_COUNTY_VILLAGE),
        ],
        channel="api",
    )
    return intake_run()


def test_an_account_sees_only_the_tasks_of_its_territory(
    as_user, duty_officer, outsider, tasks_in_two_counties
):
    mine = as_user(duty_officer).get(TASKS).json()
    assert mine["count"] == 2
    assert {t["division_code"] for t in mine["results"]} == {HOME_VILLAGE, CHANGDONG_VILLAGE}
    theirs = as_user(outsider).get(TASKS).json()
    assert theirs["count"] == 1 and theirs["results"][0]["division_code"] == OTHER_COUNTY_VILLAGE


def test_an_outsider_gets_404_on_a_task_of_another_county(
    as_user, duty_officer, outsider, tasks_in_two_counties
):
    task_id = as_user(duty_officer).get(TASKS, {"priority": 2}).json()["results"][0]["id"]
    assert as_user(outsider).get(f"{TASKS}{task_id}/").status_code == 404
    assert as_user(duty_officer).get(f"{TASKS}{task_id}/").status_code == 200


def test_a_task_shows_person_leads_and_clocks(as_user, duty_officer, tasks_in_two_counties):
    task = as_user(duty_officer).get(TASKS, {"priority": Priority.RED_CODE}).json()["results"][0]
    assert task["person"]["id_number"] == "11010519491231002X"
    assert task["person"]["phone"] == "13912341234"
    assert task["address"] == "秀英区秀华路8号"
    assert [lead["source"] for lead in task["leads"]] == ["red_code"]
    assert task["sources"] == ["red_code"]
    assert set(task["clocks"]) == {
        "dispatch_due",
        "dispatched_at",
        "radius_due",
        "radius_limited_at",
        "trace_due",
        "traced_at",
    }
    assert task["clocks"]["dispatch_due"] is not None
    assert task["batch"] == tasks_in_two_counties.id and task["status"] == "new"


def test_a_commander_sees_the_person_masked(as_user, commander, tasks_in_two_counties):
    task = as_user(commander).get(TASKS, {"priority": Priority.RED_CODE}).json()["results"][0]
    assert task["person"]["id_number"] == "1101**********002X"
    assert task["person"]["phone"] == "139****1234"
    assert task["person"]["name"] == "张**"
    assert task["address"] == "秀华社区居民委员会 ***"


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"division": "460105100"}, {CHANGDONG_VILLAGE}),
        ({"division": "460105"}, {HOME_VILLAGE, CHANGDONG_VILLAGE}),
        ({"source": "hotline"}, {CHANGDONG_VILLAGE}),
        ({"priority": 2}, {HOME_VILLAGE}),
        ({"status": "new"}, {HOME_VILLAGE, CHANGDONG_VILLAGE}),
        ({"status": "closed"}, set()),
    ],
)
def test_tasks_filter_by_division_source_priority_and_status(
    as_user, duty_officer, tasks_in_two_counties, params, expected
):
    body = as_user(duty_officer).get(TASKS, params).json()
    assert {t["division_code"] for t in body["results"]} == expected


def test_tasks_filter_by_batch(as_user, duty_officer, tasks_in_two_counties):
    ingest_rows([lead()], channel="api")
    second = intake_run()
    body = as_user(duty_officer).get(TASKS, {"batch": second.id}).json()
    assert body["count"] == 1


def test_a_bad_division_filter_is_a_400(as_user, duty_officer, tasks_in_two_counties):
    assert as_user(duty_officer).get(TASKS, {"division": "46a"}).status_code == 400


def test_the_task_list_costs_a_fixed_number_of_queries(as_user, duty_officer, django_assert_max_num_queries):
    ingest_rows(
        [lead(source=s) for s in ("red_code", "big_data", "hotline") for _ in range(20)], channel="api"
    )
    intake_run()
    client = as_user(duty_officer)
    with django_assert_max_num_queries(6):
        body = client.get(TASKS, {"page_size": 100}).json()
    assert body["count"] == 60


def test_the_lead_list_is_scoped(as_user, duty_officer, outsider, tasks_in_two_counties):
    assert as_user(duty_officer).get(LEADS).json()["count"] == 2
    assert as_user(outsider).get(LEADS).json()["count"] == 1


def test_an_auditor_cannot_post_leads_but_may_list_them(as_user, hainan):
    auditor = UserFactory(role=Role.AUDITOR, division_id="460105")
    assert post(as_user(auditor), [lead()]).status_code == 403
    assert as_user(auditor).get(LEADS).status_code == 200


def test_the_same_person_in_two_requests_is_one_task(as_user, duty_officer):
    id_number = resident_id()
    post(as_user(duty_officer), [lead(id_number=id_number, source="red_code")])
    post(as_user(duty_officer), [lead(id_number=id_number, source="returnee")])
    intake_run()
    body = as_user(duty_officer).get(TASKS).json()
    assert body["count"] == 1 and body["results"][0]["sources"] == ["red_code", "returnee"]
