"""The person's side of notices (issue 8): the pop-up page by personal token (wrong or expired → 404),
acknowledgement on the page or by SMS reply (HMAC-signed webhook), feedback answered by the desk, the
correction that supersedes a wrong notice, the public board, the evaluation figures."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notices import sms
from notices.delivery import deliver_step
from notices.figures import evaluation
from notices.links import token_for, token_hash
from notices.models import Notice, NoticeFeedback, NoticeState
from notices.services.person import feedback_answer, feedback_submit, notice_acknowledge
from notices.services.push import push_step
from tests.notice_fixtures import ID_NUMBER, approve_both, at, pushed_notice


@pytest.fixture
def live_notice(county_desk, city_desk, sms_outbox):
    return pushed_notice(county_desk, city_desk, now=timezone.now())


def test_the_person_opens_the_page_and_acknowledges(client, live_notice):
    token = token_for(live_notice)
    page = client.get(f"/n/{token}/")
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert live_notice.text in html and 'data-testid="acknowledge"' in html and ID_NUMBER not in html
    assert client.post(f"/n/{token}/ack/").status_code == 302
    live_notice.refresh_from_db()
    assert live_notice.state == NoticeState.ACKNOWLEDGED and live_notice.ack_channel == "popup"
    assert live_notice.first_opened_at is not None
    assert 'data-testid="acknowledged"' in client.get(f"/n/{token}/").content.decode()


def test_a_wrong_or_expired_token_is_404(client, live_notice):
    token = token_for(live_notice)
    assert client.get(f"/n/{token[:-1]}x/").status_code == 404
    assert client.get("/n/nothing/").status_code == 404
    assert client.post(f"/n/{token[:-2]}zz/ack/").status_code == 404
    with time_machine.travel(live_notice.token_expires_at + timedelta(seconds=1), tick=False):
        assert client.get(f"/n/{token}/").status_code == 404
        assert client.post(f"/n/{token}/feedback/", {"text": "x"}).status_code == 404
    with time_machine.travel(live_notice.token_expires_at - timedelta(seconds=1), tick=False):
        assert client.get(f"/n/{token}/").status_code == 200


def test_only_a_hash_of_the_token_is_stored(live_notice):
    token = token_for(live_notice)
    row = Notice.objects.filter(pk=live_notice.pk).values().get()
    assert token not in json.dumps(row, default=str)
    assert row["token_hash"] == token_hash(token)


def test_a_notice_not_pushed_yet_has_no_page(client, county_desk, city_desk):
    from tests.notice_fixtures import notice_in_review

    notice = notice_in_review()
    approve_both(notice, county_desk, city_desk)
    Notice.objects.filter(pk=notice.pk).update(token_salt="abc")
    notice.refresh_from_db()
    assert client.get(f"/n/{token_for(notice)}/").status_code == 404


def _signed(
    client, payload: dict, secret: str, *, timestamp: int | None = None, signature: str | None = None
):
    body = json.dumps(payload).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return client.post(
        "/api/v1/notices/sms-inbound/",
        data=body,
        content_type="application/json",
        HTTP_X_NOTICE_TIMESTAMP=ts,
        HTTP_X_NOTICE_SIGNATURE=signature or sms.sign(secret, ts, body),
    )


def test_a_signed_sms_reply_acknowledges_and_a_bad_signature_is_refused(client, settings, live_notice):
    settings.NOTICE_SMS_INBOUND_SECRET = "inbound-secret"
    assert _signed(client, {"from": "+86 139 0000 2222", "text": "确认"}, "wrong-secret").status_code == 403
    assert (
        _signed(
            client, {"from": "13900002222", "text": "1"}, "inbound-secret", timestamp=int(time.time()) - 3600
        ).status_code
        == 403
    )
    live_notice.refresh_from_db()
    assert live_notice.state == NoticeState.PUSHED
    response = _signed(client, {"from": "+86 139 0000 2222", "text": " 1 "}, "inbound-secret")
    assert response.status_code == 200 and response.json() == {
        "result": "acknowledged",
        "notice": live_notice.pk,
    }
    live_notice.refresh_from_db()
    assert live_notice.state == NoticeState.ACKNOWLEDGED and live_notice.ack_channel == "sms"


def test_an_sms_reply_is_matched_to_the_number_the_notice_was_sent_to(client, settings, live_notice):
    from tasks.validation import phone_hash

    settings.NOTICE_SMS_INBOUND_SECRET = "inbound-secret"
    assert live_notice.phone_hash == phone_hash("13900002222")
    # The person's record gets another number after the push: the reply still comes from the one texted.
    person = live_notice.person
    person.phone, person.phone_hash = "13900003333", phone_hash("13900003333")
    person.save(update_fields=["phone", "phone_hash"])
    assert _signed(client, {"from": "13900003333", "text": "1"}, "inbound-secret").json() == {
        "result": "nothing_to_acknowledge"
    }
    response = _signed(client, {"from": "13900002222", "text": "1"}, "inbound-secret")
    assert response.json() == {"result": "acknowledged", "notice": live_notice.pk}


def test_an_sms_reply_with_other_text_becomes_feedback(client, settings, live_notice):
    settings.NOTICE_SMS_INBOUND_SECRET = "inbound-secret"
    response = _signed(client, {"from": "13900002222", "text": "我不是密接，那天不在现场"}, "inbound-secret")
    assert response.json()["result"] == "feedback"
    assert NoticeFeedback.objects.get(notice=live_notice).text == "我不是密接，那天不在现场"


def test_without_a_configured_secret_the_webhook_refuses_everything(client, settings, live_notice):
    settings.NOTICE_SMS_INBOUND_SECRET = ""
    assert _signed(client, {"from": "13900002222", "text": "1"}, "").status_code == 403


def test_feedback_is_explained_by_the_desk_and_the_answer_reaches_the_person(
    client, county_desk, password, live_notice, sms_outbox
):
    token = token_for(live_notice)
    assert client.post(f"/n/{token}/feedback/", {"text": "检测日期写错了"}).status_code == 302
    feedback = NoticeFeedback.objects.get(notice=live_notice)
    assert feedback.due_at == feedback.created_at + timedelta(hours=24)
    staff = type(client)()
    staff.login(username=county_desk.username, password=password)
    assert feedback.text in staff.get("/notices/feedback/").content.decode()
    staff.post(f"/notices/feedback/{feedback.pk}/answer/", {"answer": "经核实，检测日期无误，请按时检测。"})
    feedback.refresh_from_db()
    assert feedback.state == "explained" and feedback.answered_by == county_desk
    assert "经核实，检测日期无误" in client.get(f"/n/{token}/").content.decode()
    deliver_step()
    assert any("反馈已有答复" in m.text for m in sms_outbox)


def test_a_correction_supersedes_the_notice_and_is_reviewed_again(
    county_desk, city_desk, live_notice, client
):
    feedback = feedback_submit(notice=live_notice, text="我只是黄码，不是红码")
    feedback_answer(
        feedback=feedback,
        actor=county_desk,
        answer="已更正，新的通知将发送给您。",
        corrected_text="李*您好：您的健康码为黄码，请于11月21日接受核酸检测。",
    )
    live_notice.refresh_from_db()
    assert live_notice.state == NoticeState.SUPERSEDED
    corrected = live_notice.superseded_by
    assert corrected.state == NoticeState.COUNTY_REVIEW and corrected.source == "correction"
    html = client.get(f"/n/{token_for(live_notice)}/").content.decode()
    assert 'data-testid="superseded"' in html and "已更正" in html
    approve_both(corrected, county_desk, city_desk)
    Notice.objects.filter(pk=corrected.pk).update(push_after=timezone.now())
    assert push_step() == 1


def test_the_board_is_aggregate_and_non_personal(client, live_notice, county_desk):
    from notices.models import BoardMessage

    BoardMessage.objects.create(division_id="460105", text="近期从武汉市返回的人员请主动报备。")
    html = client.get("/board/").content.decode()
    assert "近期从武汉市返回" in html and "秀英区" in html
    assert (
        live_notice.person.name not in html
        and live_notice.person.phone not in html
        and live_notice.text not in html
    )
    assert "<script>" not in html and "style=" not in html


def test_evaluation_figures(client, api_client, county_desk, city_desk, password, sms_outbox):
    with time_machine.travel(at(20, 10), tick=False):
        acknowledged = pushed_notice(county_desk, city_desk, now=at(20, 10), phone="13900005555")
        corrected = pushed_notice(county_desk, city_desk, now=at(20, 10), phone="13900006666")
        pushed_notice(county_desk, city_desk, now=at(20, 10), phone="13900007777")
    with time_machine.travel(at(20, 10, 30), tick=False):
        notice_acknowledge(notice=acknowledged, channel="popup")
        feedback = feedback_submit(notice=corrected, text="错了")
    with time_machine.travel(at(20, 12), tick=False):
        feedback_answer(
            feedback=feedback,
            actor=county_desk,
            answer="已更正",
            corrected_text="李*您好：请于11月21日检测。",
        )
    [row] = evaluation(user=county_desk, start=at(20, 0), end=at(21, 0))
    assert row["division"] == "460105" and row["pushed"] == 3 and row["acknowledged"] == 1
    assert row["acknowledgement_rate"] == pytest.approx(0.333, abs=0.001)
    assert row["corrected"] == 1 and row["accuracy"] == pytest.approx(0.667, abs=0.001)
    assert (
        row["push_to_ack_minutes"] == 30.0
        and row["approval_to_push_minutes"] == 0.0
        and row["pushed_on_time_rate"] == 1
    )
    assert row["feedback"] == 1 and row["feedback_in_time"] == 1
    api_client.login(username=county_desk.username, password=password)
    data = api_client.get("/api/v1/notices/evaluation/", {"start": "2026-11-20", "end": "2026-11-20"}).json()
    assert data["results"][0]["pushed"] == 3
    client.login(username=county_desk.username, password=password)
    assert client.get("/notices/evaluation/", {"start": "2026-11-20", "end": "2026-11-20"}).status_code == 200
