"""The administrator onboards three staff from a CSV (desktop, 1366 px), downloads their activation slips,
and one of them activates from the slip's QR URL on a phone and logs in. Clicks only after login."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tasks.models import User
from tests.browser.conftest import PHONE, login, nav

DESKTOP = {"viewport": {"width": 1366, "height": 900}}
STAFF_CSV = (
    "name,phone,role,division_code\n"
    "网格员李一,13911110001,field_staff,460105001001\n"
    "网格员王二,13911110002,网格员,460105001002\n"
    "队长张三,13911110003,team_leader,460105001\n"
    "错误行,123,pilot,460105001001\n"
)
NEW_PASSWORD = "Grid-Worker-2026!"


@pytest.fixture
def demo(hainan):
    with open("/dev/null", "w") as sink:
        call_command("seed_demo", stdout=sink)


def test_the_admin_onboards_staff_and_one_activates_with_the_slip(
    demo, new_context, live_server, screenshot, tmp_path
):
    from reports.management.commands.seed_demo import DEMO_PASSWORD

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    context = new_context(**DESKTOP, accept_downloads=True)
    page = context.new_page()
    login(page, live_server, "admin", DEMO_PASSWORD)
    nav(page, "管理", "账号管理")
    expect(page.get_by_test_id("account-table")).to_be_visible()
    screenshot(page, "accounts")

    page.get_by_test_id("account-onboard").click()
    staff = tmp_path / "staff.csv"
    staff.write_text(STAFF_CSV, encoding="utf-8")
    page.locator("input[type=file]").set_input_files(str(staff))
    page.get_by_test_id("onboard-preview").click()
    expect(page.get_by_test_id("preview-valid")).to_have_text("3")
    expect(page.get_by_test_id("preview-rejected")).to_have_text("1")
    rejected = page.get_by_test_id("rejected-rows")
    expect(rejected).to_contain_text("5")  # the line
    expect(rejected).to_contain_text("工作电话")  # the field, in words
    expect(rejected).to_contain_text("角色")
    screenshot(page, "preview")

    page.get_by_test_id("confirm-onboard").click()
    expect(page.get_by_test_id("created-accounts")).to_contain_text("网格员李一")
    screenshot(page, "created")
    # WeasyPrint embeds the CJK font: slow on a loaded CI machine.
    with page.expect_download(timeout=180_000) as download_info:
        page.get_by_test_id("download-slips").click(no_wait_after=True)
    pdf = tmp_path / "slips.pdf"
    download_info.value.save_as(str(pdf))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    # Each code in large type (and again inside its URL): three different codes.
    codes = set(re.findall(r"(?<![=A-Z0-9])[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b", text))
    assert len(codes) == 3, text
    for name in ("网格员李一", "网格员王二", "队长张三"):
        assert name in text
    # The slip as printed: render its first page to look at it.
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "slip")],
            check=True,
        )
        from tests.browser.conftest import SCREENSHOTS

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for image in tmp_path.glob("slip*.png"):
            shutil.copy(
                image,
                SCREENSHOTS / "test_the_admin_onboards_staff_and_one_activates_with_the_slip-slips-pdf.png",
            )

    # The activation rate counts them: 0 of 3 activated in 秀英区.
    nav(page, "管理", "账号管理")
    expect(page.get_by_test_id("activation-rate")).to_contain_text("秀英区")
    context.close()

    # The grid worker scans the slip's QR code: the URL printed under it, on the phone.
    # pdftotext drops a hyphen where the printed URL wraps at one: read the code's 12 characters back.
    match = re.search(
        r"(http://[A-Za-z0-9.:-]+/accounts/activate/\?username=13911110001&code=)([A-Z2-9-]{12,14})",
        text.replace("\n", ""),
    )
    assert match, text
    raw = match.group(2).replace("-", "")
    slip_url = f"{match.group(1)}{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    assert f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" in codes
    phone = new_context(**PHONE).new_page()
    phone.goto(slip_url)
    expect(phone.locator("input[name=username]")).to_have_value("13911110001")
    expect(phone.locator("input[name=code]")).not_to_have_value("")
    phone.locator("input[name=password]").fill(NEW_PASSWORD)
    phone.locator("input[name=password_again]").fill(NEW_PASSWORD)
    screenshot(phone, "activate")
    with phone.expect_navigation():
        phone.get_by_role("button", name="激活").click()
    assert User.objects.get(username="13911110001").is_active
    login(phone, live_server, "13911110001", NEW_PASSWORD)
    expect(phone.get_by_test_id("current-user")).to_contain_text("网格员李一")
    screenshot(phone, "logged-in")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
