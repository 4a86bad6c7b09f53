import pytest
from django.urls import reverse

from tasks.models import Division
from tests.factories import UserFactory


def test_token_auth_returns_a_token_that_authenticates(api_client, duty_officer, password):
    from tests.conftest import totp_now

    # A duty officer's token needs the second factor too (issue 9, tasks/api/security.py).
    credentials = {"username": "alice", "password": password, "otp_token": totp_now(duty_officer)}
    response = api_client.post("/api/v1/auth/token/", credentials, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api_client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json() == {
        "id": duty_officer.id,
        "username": "alice",
        "full_name": "值班员甲",
        "role": "duty_officer",
        "division_code": "460105",
    }


def test_a_wrong_password_gets_a_json_error_naming_the_problem(api_client, duty_officer):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid input." and "non_field_errors" in body["errors"]


def test_a_missing_field_is_named(api_client, hainan):
    response = api_client.post("/api/v1/auth/token/", {"username": "alice"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_anonymous_requests_are_refused_with_json(api_client, hainan):
    response = api_client.get("/api/v1/divisions/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


def test_pagination_has_count_next_previous_results_and_page_size(api_client, duty_officer):
    api_client.force_authenticate(duty_officer)
    body = api_client.get("/api/v1/divisions/", {"page_size": 10}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == Division.objects.filter(code__startswith="460105").count()
    assert len(body["results"]) == 10 and "page_size=10" in body["next"]


def test_page_size_is_capped_at_1000(api_client, hainan):
    api_client.force_authenticate(UserFactory(role="commander", division_id="46"))
    body = api_client.get("/api/v1/divisions/", {"page_size": 5000}).json()
    assert len(body["results"]) == 1000


def test_the_division_picker_searches_by_name_or_code_inside_the_scope(api_client, duty_officer):
    api_client.force_authenticate(duty_officer)
    by_name = api_client.get("/api/v1/divisions/", {"q": "秀华"}).json()["results"]
    assert [d["code"] for d in by_name] == ["460105001001"]
    by_code = api_client.get("/api/v1/divisions/", {"q": "460105001", "level": "township"}).json()["results"]
    assert [d["code"] for d in by_code] == ["460105001"]
    outside = api_client.get("/api/v1/divisions/", {"q": "4601060"}).json()["results"]
    assert outside == []


def test_a_bad_filter_value_is_named(api_client, duty_officer):
    api_client.force_authenticate(duty_officer)
    response = api_client.get("/api/v1/divisions/", {"level": "galaxy"})
    assert response.status_code == 400
    assert "level" in response.json()["errors"]


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_docs_are_served(client, duty_officer, password, url):
    client.login(username="alice", password=password)
    response = client.get(url)
    assert response.status_code == 200


def test_the_docs_use_local_assets_only(client, duty_officer, password):
    client.login(username="alice", password=password)
    html = client.get("/api/docs/").content.decode()
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_health_check(client, db):
    assert client.get(reverse("healthz")).json() == {"status": "ok"}


def test_units_show_their_leader_and_members(api_client, team_leader):
    from tasks.models import Unit, UnitMembership

    team = Unit.objects.get(kind="team", division_id="460105001")
    team.leader = team_leader
    team.save()
    UnitMembership.objects.create(unit=team, user=team_leader)
    api_client.force_authenticate(team_leader)
    body = api_client.get(f"/api/v1/units/{team.id}/").json()
    assert body["leader"]["username"] == "tina"
    assert [m["username"] for m in body["members"]] == ["tina"]


def test_the_roster_says_who_is_on_duty(api_client, duty_officer):
    import datetime as dt

    from tasks.models import DutyShift, Unit

    desk = Unit.objects.get(kind="duty_desk", division_id="460105")
    start = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    DutyShift.objects.create(
        unit=desk, user=duty_officer, starts_at=start, ends_at=start + dt.timedelta(hours=24)
    )
    api_client.force_authenticate(duty_officer)
    during = api_client.get("/api/v1/duty-shifts/", {"on_duty_at": "2026-11-22T07:59:59+08:00"}).json()
    after = api_client.get("/api/v1/duty-shifts/", {"on_duty_at": "2026-11-22T08:00:00+08:00"}).json()
    assert [row["officer"]["username"] for row in during["results"]] == ["alice"]
    assert after["results"] == []
    bad = api_client.get("/api/v1/duty-shifts/", {"on_duty_at": "tomorrow"})
    assert bad.status_code == 400 and "on_duty_at" in bad.json()["errors"]
