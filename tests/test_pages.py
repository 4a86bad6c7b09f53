import pytest
from django.urls import reverse

from tasks.models import Role
from tests.factories import UserFactory


def test_the_login_page_is_chinese_first(client, db):
    html = client.get(reverse("login")).content.decode()
    assert 'lang="zh-hans"' in html
    assert "登录" in html


def test_english_is_available(client, db):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get(reverse("login")).content.decode()
    assert 'lang="en"' in html and "Log in" in html


def test_pages_use_no_cdn(client, db):
    html = client.get(reverse("login")).content.decode()
    for host in ("cdn.", "unpkg.com", "jsdelivr", "googleapis", "cdnjs"):
        assert host not in html


def test_home_requires_login(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", list(Role.values))
def test_every_role_has_a_home_page(client, hainan, password, role):
    division = {"field_staff": "460105001001", "team_leader": "460105001"}.get(role, "460105")
    user = UserFactory(role=role, division_id=division, full_name=f"用户-{role}")
    client.login(username=user.username, password=password)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"用户-{role}" in html
    assert f'data-role="{role}"' in html


def test_logout_is_a_post(client, duty_officer, password):
    client.login(username="alice", password=password)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302
