import shutil
import subprocess
from pathlib import Path

import pytest

PO = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.mark.skipif(
    not shutil.which("msgattrib"), reason="GNU gettext is not installed (apt-get install gettext)"
)
def test_every_message_has_chinese():
    untranslated = subprocess.run(
        ["msgattrib", "--untranslated", str(PO)], capture_output=True, text=True, check=True
    ).stdout
    fuzzy = subprocess.run(
        ["msgattrib", "--only-fuzzy", str(PO)], capture_output=True, text=True, check=True
    ).stdout
    assert untranslated.count('msgid "') <= 1, "untranslated messages: run scripts/i18n.py\n" + untranslated
    assert fuzzy.count('msgid "') <= 1, "fuzzy translations: review them\n" + fuzzy


@pytest.mark.skipif(
    not shutil.which("msgfmt"), reason="GNU gettext is not installed (apt-get install gettext)"
)
def test_the_compiled_catalogue_is_up_to_date(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(PO)], check=True)
    assert fresh.read_bytes() == PO.with_suffix(".mo").read_bytes(), "run scripts/i18n.py to recompile"
