"""A large lead file in the browser (docs/intake.md, "Uploads"): the duty officer uploads it, follows
the background job's progress page, confirms the preview there and sees the import's result."""

from __future__ import annotations

from playwright.sync_api import expect

from tasks.models import Lead, UploadJob
from tasks.uploads import run_import, run_preview
from tests.browser.conftest import login, nav
from tests.conftest import HOME_VILLAGE

HEADER = "source,external_id,id_number,name,phone,division_code,address,reason,reported_at\n"


def test_a_large_upload_is_followed_on_its_job_page(
    page, live_server, hainan, duty_officer, password, screenshot, settings, tmp_path
):
    settings.UPLOAD_INLINE_BYTES = 1000
    settings.MEDIA_ROOT = str(tmp_path)
    rows = "".join(
        f"community,BIG{n},,张三,1390000{n:04d},{HOME_VILLAGE},海秀路{n}号,社区排查,2024-05-01T10:00:00+08:00\n"
        for n in range(1, 41)
    )
    csv_path = tmp_path / "big.csv"
    csv_path.write_text(HEADER + rows + "community,BAD1,,李四,123,460105,,,2024-05-01T10:00:00+08:00\n")
    login(page, live_server, duty_officer.username, password)

    nav(page, "任务", "线索汇聚")
    page.get_by_role("link", name="上传文件").first.click()
    page.locator("input[type=file]").set_input_files(str(csv_path))
    with page.expect_navigation():
        page.get_by_test_id("upload-form").locator("button[type=submit]").click()
    job_card = page.get_by_test_id("upload-job")
    expect(job_card).to_have_attribute("data-state", "queued")
    expect(page.get_by_test_id("upload-progress")).to_be_visible()
    screenshot(page, "queued")

    run_preview(UploadJob.objects.get().pk)  # the worker's part
    page.reload()
    expect(job_card).to_have_attribute("data-state", "previewed")
    expect(page.get_by_test_id("preview-accepted")).to_have_text("40")
    expect(page.get_by_test_id("preview-rejected")).to_have_text("1")
    screenshot(page, "preview")

    with page.expect_navigation():
        page.get_by_test_id("confirm-upload").click()
    run_import(UploadJob.objects.get().pk)
    page.reload()
    expect(page.get_by_test_id("upload-done")).to_contain_text("40")
    assert Lead.objects.filter(external_id__startswith="BIG").count() == 40
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "done")
