"""Intake pages: overview, upload with preview, manual entry, batch task list, task list, unresolved queue."""

import io
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from tasks.intake import intake_run
from tasks.leads_io import ingest_rows
from tasks.models import Lead, LeadRejection
from tests.intake_helpers import CHANGDONG_VILLAGE, HOME_VILLAGE, OTHER_COUNTY_VILLAGE, lead, resident_id

# Request the test database statically (reaching it only through `hainan` is not enough).
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_dispatch(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.LANGUAGE_CODE = "en"
    with (
        mock.patch("tasks.dispatch.plan_intake_dispatch"),
        mock.patch("tasks.dispatch.dispatch_new_tasks", return_value=0),
    ):
        yield


@pytest.fixture
def logged_in(client):
    def login(user):
        client.force_login(user)
        return client

    return login


CSV_HEADER = "source,external_id,id_number,name,phone,division_code,address,reason,reported_at,hospital\n"


def csv_file(*lines):
    return SimpleUploadedFile("leads.csv", (CSV_HEADER + "".join(lines)).encode(), content_type="text/csv")


def test_the_intake_page_shows_batches_and_todays_rejected_count(logged_in, duty_officer):
    ingest_rows([lead(), lead(id_number="123")], channel="api", created_by_id=duty_officer.pk)
    batch = intake_run()
    response = logged_in(duty_officer).get(reverse("intake"))
    assert response.status_code == 200
    assert reverse("intake_batch", args=[batch.pk]) in response.content.decode()
    assert response.context["rejected_today"] == 1
    assert len(response.context["my_rejections"]) == 1


def test_field_staff_cannot_open_the_intake_page(logged_in, field_staff):
    assert logged_in(field_staff).get(reverse("intake")).status_code == 403


def test_an_upload_is_previewed_before_anything_is_written(logged_in, duty_officer):
    client = logged_in(duty_officer)
    existing = lead(external_id="old-1", source="community")
    ingest_rows([existing], channel="api")
    upload = csv_file(
        f"community,new-1,{lead()['id_number']},张三,,{HOME_VILLAGE},,,2024-05-01T08:00:00,人民医院\n",
        f"community,old-1,{existing['id_number']},张三,,{HOME_VILLAGE},,,2024-05-01T08:00:00,\n",
        "community,bad-1,110105194912310023,李四,,460105,,,2024-05-01T08:00:00,\n",
    )
    response = client.post(
        reverse("intake_upload"), {"file": upload, "source": "community", "action": "preview"}
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    counts = (preview["rows"], preview["accepted"], preview["duplicates"], preview["rejected_count"])
    assert counts == (3, 1, 1, 1)
    assert preview["rejected"][0]["index"] == 4  # the file line
    assert "check digit should be X, got 3" in response.content.decode()
    assert Lead.objects.count() == 1 and LeadRejection.objects.count() == 0

    response = client.post(
        reverse("intake_upload"), {"action": "confirm", "token": response.context["token"]}
    )
    assert response.status_code == 302
    assert Lead.objects.count() == 2
    new = Lead.objects.get(external_id="new-1")
    assert (
        new.channel == "upload" and new.payload == {"hospital": "人民医院"} and new.created_by == duty_officer
    )
    assert LeadRejection.objects.get().row_index == 4


def test_a_confirm_without_a_preview_is_refused(logged_in, duty_officer):
    response = logged_in(duty_officer).post(
        reverse("intake_upload"), {"action": "confirm", "token": "forged"}
    )
    assert response.status_code == 302 and Lead.objects.count() == 0


def test_an_xlsx_upload_is_read_like_a_csv(logged_in, duty_officer):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["external_id", "id_number", "name", "division_code", "reported_at"])
    sheet.append(["x-1", lead()["id_number"], "王五", HOME_VILLAGE, "2024-05-01T08:00:00"])
    data = io.BytesIO()
    workbook.save(data)
    upload = SimpleUploadedFile("leads.xlsx", data.getvalue())
    client = logged_in(duty_officer)
    response = client.post(
        reverse("intake_upload"), {"file": upload, "source": "hotline", "action": "preview"}
    )
    assert response.context["preview"]["accepted"] == 1
    client.post(reverse("intake_upload"), {"action": "confirm", "token": response.context["token"]})
    assert Lead.objects.get().source == "hotline"


def test_field_staff_cannot_upload(logged_in, field_staff):
    assert logged_in(field_staff).get(reverse("intake_upload")).status_code == 403


def test_the_manual_form_records_one_lead_with_the_four_asks(logged_in, duty_officer):
    client = logged_in(duty_officer)
    form = client.get(reverse("intake_manual")).context["form"]
    data = {
        "source": "community",
        "name": "赵六",
        "phone": "13912345678",
        "division_code": HOME_VILLAGE,
        "reported_at": "2024-05-01T08:00",
        "came_from": "武汉",
        "contacts": "家人3人",
        "submission": form.initial["submission"],
    }
    assert client.post(reverse("intake_manual"), data).status_code == 302
    assert client.post(reverse("intake_manual"), data).status_code == 302  # a double submit is one lead
    saved = Lead.objects.get()
    assert saved.channel == "form" and saved.payload == {"came_from": "武汉", "contacts": "家人3人"}


def test_the_manual_form_shows_reasons_on_the_fields(logged_in, duty_officer):
    client = logged_in(duty_officer)
    data = {
        "source": "hotline",
        "name": "赵六",
        "phone": "12345",
        "division_code": HOME_VILLAGE,
        "reported_at": "2024-05-01T08:00",
        "submission": "0123456789abcdef",
    }
    response = client.post(reverse("intake_manual"), data)
    assert response.status_code == 200
    assert "not a mainland mobile number" in response.context["form"].errors["phone"][0]
    assert Lead.objects.count() == 0


@pytest.fixture
def batch(hainan):
    ingest_rows(
        [
            lead(source="red_code"),
            lead(source="hotline", division_code="460105", address="长流镇长东村"),
            lead(source="hotline", division_code="460105", address="某某路1号"),
            lead(division_code=OTHER_COUNTY_VILLAGE),
        ],
        channel="api",
    )
    return intake_run()


def test_the_batch_page_lists_only_visible_tasks_and_filters_them(logged_in, duty_officer, batch):
    client = logged_in(duty_officer)
    response = client.get(reverse("intake_batch", args=[batch.pk]))
    assert {t.division_id for t in response.context["tasks"]} == {HOME_VILLAGE, CHANGDONG_VILLAGE, "460105"}
    response = client.get(
        reverse("intake_batch", args=[batch.pk]), {"source": "hotline", "division": "460105100"}
    )
    assert [t.division_id for t in response.context["tasks"]] == [CHANGDONG_VILLAGE]
    response = client.get(reverse("intake_batch", args=[batch.pk]), {"priority": "2"})
    assert [t.division_id for t in response.context["tasks"]] == [HOME_VILLAGE]


def test_the_task_list_masks_personal_data_for_a_commander(logged_in, commander, batch):
    response = logged_in(commander).get(reverse("task_list"))
    assert response.status_code == 200 and len(response.context["tasks"]) == 4
    id_number = Lead.objects.filter(source="red_code").first().id_number
    content = response.content.decode()
    assert id_number not in content and id_number[:4] + "**********" in content


def test_the_task_list_is_scoped_for_an_outsider(logged_in, outsider, batch):
    response = logged_in(outsider).get(reverse("task_list"))
    assert [t.division_id for t in response.context["tasks"]] == [OTHER_COUNTY_VILLAGE]


def test_the_unresolved_queue_lists_tasks_without_a_village_with_their_reason(logged_in, duty_officer, batch):
    response = logged_in(duty_officer).get(reverse("unresolved_queue"))
    tasks = list(response.context["tasks"])
    assert [t.division_id for t in tasks] == ["460105"]
    assert "秀英区" in tasks[0].unresolved_reason
    assert tasks[0].unresolved_reason in response.content.decode()


def test_the_upload_page_names_the_document_type_column_and_its_values_in_chinese(logged_in, duty_officer):

    page = logged_in(duty_officer).get(reverse("intake_upload"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()
    assert "id_type, id_number" in text
    assert (
        "证件类型列说明号码列是哪种证件的号码：" in text
        and "<code>id_type</code> → <code>id_number</code>" in text
    )
    assert "；留空或不含此列即为居民身份证。" in text
    for value, label in [
        ("resident_id", "居民身份证 （默认）"),
        ("passport", "护照"),
        ("hk_macao_permit", "港澳居民来往内地通行证"),
        ("taiwan_permit", "台湾居民来往大陆通行证"),
        ("foreign_permanent_resident", "外国人永久居留身份证"),
        ("other", "其他证件"),
    ]:
        assert f"<li><code>{value}</code> {label}" in text


def test_an_uploaded_file_with_an_id_type_column_keeps_the_document_type(logged_in, duty_officer):
    client = logged_in(duty_officer)
    header = "source,external_id,id_type,id_number,name,division_code,reported_at\n"
    body = (
        f"community,u-1,passport,E12345678,JOHN SMITH,{HOME_VILLAGE},2024-05-01T08:30:00+08:00\n"
        f"community,u-2,,{resident_id()},王小明,{HOME_VILLAGE},2024-05-01T08:30:00+08:00\n"
    )
    upload = SimpleUploadedFile("leads.csv", (header + body).encode(), content_type="text/csv")
    response = client.post(
        reverse("intake_upload"), {"file": upload, "source": "community", "action": "preview"}
    )
    assert response.status_code == 200
    client.post(reverse("intake_upload"), {"action": "confirm", "token": response.context["token"]})
    types = dict(Lead.objects.values_list("external_id", "id_type"))
    assert types == {"u-1": "passport", "u-2": "resident_id"}
