"""Likely duplicates: the job proposes pairs over the blind indexes and the sound of names, once each;
the duty officer merges them through the task merge or dismisses them for good."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tasks.duplicates import find_duplicates, name_sound
from tasks.models import DuplicateCandidate, TracingTask
from tests.conftest import HOME_VILLAGE, OTHER_VILLAGE_SAME_TOWNSHIP
from tests.factories import PersonFactory, _hash
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE, linked_lead, make_task

pytestmark = pytest.mark.django_db

URL = "/api/v1/persons/duplicates/"


def _task(name: str, phone: str, village: str = HOME_VILLAGE, **person) -> TracingTask:
    return make_task(village, person=PersonFactory(name=name, phone=phone, **person), status="dispatched")


def _pairs() -> set[tuple[int, int, tuple[str, ...]]]:
    return {(c.person_a_id, c.person_b_id, tuple(c.rules)) for c in DuplicateCandidate.objects.all()}


def test_name_sound_ignores_tones_and_characters():
    assert name_sound("张伟") == name_sound("章伟") == "zhangwei"
    assert name_sound("") == ""


def test_name_sound_reads_exactly_as_pypinyin_does_whole_names():
    import random

    from pypinyin import Style, lazy_pinyin
    from pypinyin.constants import PHRASES_DICT

    def reference(name: str) -> str:
        return "".join(lazy_pinyin(name, style=Style.NORMAL, errors="default")).lower().replace(" ", "")[:120]

    # Phrases read as phrases (长孙, 银行, 重庆), characters of several readings, other scripts kept.
    names = [
        "长孙无忌",
        "单雄信",
        "曾国藩",
        "银行行长",
        "重庆人",
        "吕布",
        "女儿",
        "艾力·买买提",
        "JOHN SMITH",
    ]
    names += ["张3", "ｚｈａｎｇ伟", "a张b伟c", "张 伟", "〇", "𠀀", "李ǚ", "乐乐", "朴"]
    rng = random.Random(7)
    phrases = sorted(k for k in PHRASES_DICT if len(k) <= 4)
    names += ["张" + p for p in rng.sample(phrases, 2_000)] + [p + "伟" for p in rng.sample(phrases, 2_000)]
    chars = [chr(c) for c in range(0x4E00, 0x9FA6)]
    names += ["".join(rng.choice(chars) for _ in range(rng.choice((2, 3, 4)))) for _ in range(5_000)]
    assert [name_sound(n) for n in names] == [reference(n) for n in names]


def test_same_phone_with_a_similar_name_is_proposed_once(hainan):
    a = _task("张伟", "13900000001")
    b = _task("张小伟", "13900000001")
    _task("李娜", "13900000001", village=OTHER_VILLAGE_SAME_TOWNSHIP)  # another surname: not proposed
    first = find_duplicates()
    again = find_duplicates()
    assert first.ran and first.proposed == 1 and again.proposed == 0
    low, high = sorted([a.person_id, b.person_id])
    assert _pairs() == {(low, high, ("same_phone",))}


def test_names_that_sound_the_same_in_one_village(hainan):
    a = _task("张伟", "13900000011")
    b = _task("章伟", "13900000012")
    _task("章伟", "13900000013", village=OTHER_VILLAGE_SAME_TOWNSHIP)  # another village
    find_duplicates()
    low, high = sorted([a.person_id, b.person_id])
    assert _pairs() == {(low, high, ("pinyin_name_same_village",))}
    candidate = DuplicateCandidate.objects.get()
    assert candidate.evidence == {"same_characters": False, "division": HOME_VILLAGE}


def test_an_id_number_learned_later_links_the_two_records(hainan):
    id_number = "460105199001011234"
    by_phone = _task("王芳", "13900000021")
    by_id = _task("王芳芳", "13900000022", id_number=id_number, person_key="id:" + _hash("id", id_number))
    linked_lead(
        by_phone,
        source="community",
        priority=3,
        person_key=by_phone.person.person_key,
        id_number_hash=_hash("id", id_number),
        reported_at=by_phone.created_at,
    )
    find_duplicates()
    low, high = sorted([by_phone.person_id, by_id.person_id])
    assert (low, high, ("id_learned_later",)) in _pairs()


def test_ended_tasks_are_not_proposed(hainan):
    _task("赵强", "13900000031")
    make_task(HOME_VILLAGE, person=PersonFactory(name="赵强", phone="13900000031"), status="closed")
    assert find_duplicates().proposed == 0


def test_two_runs_at_once_propose_each_pair_once(transactional_db, hainan):
    for n in range(20):
        _task(f"孙{n}", f"1390000{n:04d}")
        _task(f"孙{n}", f"1390000{n:04d}")
    results = []

    def run():
        try:
            results.append(find_duplicates())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert DuplicateCandidate.objects.count() == 20
    assert sum(r.proposed for r in results) == 20


def test_the_queue_api_merges_and_dismisses(api_client, duty_officer, hainan):
    a = _task("张伟", "13900000041")
    b = _task("张伟", "13900000041")
    c = _task("刘洋", "13900000042")
    d = _task("刘洋", "13900000042")
    find_duplicates()
    api_client.force_authenticate(duty_officer)
    listed = api_client.get(URL).json()
    assert listed["count"] == 2
    row = listed["results"][0]
    assert set(row) >= {"id", "rules", "evidence", "state", "person_a", "person_b", "created_at"}
    assert set(row["person_a"]) >= {"id", "name", "task", "case_status"}
    ab = DuplicateCandidate.objects.get(person_a_id=min(a.person_id, b.person_id))
    cd = DuplicateCandidate.objects.get(person_a_id=min(c.person_id, d.person_id))

    wrong = api_client.post(f"{URL}{ab.pk}/merge/", {"keep": c.person_id}, format="json")
    assert wrong.status_code == 400 and "keep" in wrong.json()["errors"]
    merged = api_client.post(f"{URL}{ab.pk}/merge/", {"keep": a.person_id}, format="json")
    assert merged.status_code == 200 and merged.json()["id"] == a.pk
    b.refresh_from_db()
    assert b.status == "merged" and b.merged_into_id == a.pk

    assert api_client.post(f"{URL}{cd.pk}/dismiss/").status_code == 200
    cd.refresh_from_db()
    assert cd.state == "dismissed"
    # Never proposed again.
    find_duplicates()
    assert DuplicateCandidate.objects.filter(state="open").count() == 0
    assert api_client.get(URL).json()["count"] == 0


def test_outside_the_territory_nothing_is_listed_and_pairs_answer_404(api_client, hainan, duty_officer):
    from tests.factories import UserFactory

    _task("张伟", "13900000051", village=OTHER_COUNTY_VILLAGE)
    _task("张伟", "13900000051", village=OTHER_COUNTY_VILLAGE)
    find_duplicates()
    pair = DuplicateCandidate.objects.get()
    api_client.force_authenticate(duty_officer)
    assert api_client.get(URL).json()["count"] == 0
    assert api_client.post(f"{URL}{pair.pk}/dismiss/").status_code == 404
    field = UserFactory(username="fw", role="field_staff", division_id=HOME_VILLAGE)
    api_client.force_authenticate(field)
    assert api_client.get(URL).status_code == 403


def test_the_queue_page_merges_a_pair(client, duty_officer, hainan):
    a = _task("张伟", "13900000061")
    b = _task("章伟", "13900000062")
    find_duplicates()
    client.force_login(duty_officer)
    page = client.get("/persons/duplicates/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"T{a.pk}" in text and f"T{b.pk}" in text
    pair = DuplicateCandidate.objects.get()
    answer = client.post(f"/persons/duplicates/{pair.pk}/", {"decision": "merge", "keep": b.person_id})
    assert answer.status_code == 302
    a.refresh_from_db()
    assert a.status == "merged" and a.merged_into_id == b.pk
