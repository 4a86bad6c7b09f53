"""Refresh the zh-hans translation: extract messages, fill them from locale/fragments/*.po (each
feature keeps its Chinese there), compile, and list what is still untranslated.

    .venv/bin/python scripts/i18n.py
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def main() -> int:
    env = dict(os.environ)
    # makemessages needs settings but no database.
    env.setdefault("DATABASE_URL", "postgres://localhost/unused")
    env.setdefault("REDIS_URL", "redis://localhost:6379/0")
    env.setdefault("DEBUG", "true")
    manage = [sys.executable, str(ROOT / "manage.py")]
    # The fragments are the only source of Chinese: start from an empty catalogue so that makemessages'
    # fuzzy matching cannot carry a wrong guess ("fields" → 网格员) over a fragment's translation.
    PO.unlink(missing_ok=True)
    ignores = [f"--ignore={d}" for d in (".venv", "bench", "tests", "scripts", "staticfiles", ".local")]
    subprocess.run(
        [*manage, "makemessages", "-l", "zh_Hans", "--no-obsolete", "--no-location", *ignores],
        check=True,
        cwd=ROOT,
        env=env,
    )
    # A fresh catalogue's header is marked fuzzy; say what it is instead.
    header = (
        PO.read_text(encoding="utf-8")
        .replace("#, fuzzy\nmsgid", "msgid", 1)
        .replace('"Language: \\n"', '"Language: zh_Hans\\n"', 1)
    )
    # Chinese has one plural form (the header says nplurals=1); xgettext leaves two empty msgstr[] slots.
    header = header.replace('msgstr[0] ""\nmsgstr[1] ""\n', 'msgstr[0] ""\n')
    PO.write_text(header, encoding="utf-8")
    fragments = sorted((ROOT / "locale" / "fragments").glob("*.po"))
    compendia = [arg for fragment in fragments for arg in ("-C", str(fragment))]
    subprocess.run(
        [
            "msgmerge",
            "--quiet",
            "--no-fuzzy-matching",
            "--no-location",
            *compendia,
            "-o",
            str(PO),
            str(PO),
            str(PO),
        ],
        check=True,
    )
    subprocess.run(
        [*manage, "compilemessages", "-l", "zh_Hans", "--ignore=.venv", "--ignore=.local"],
        check=True,
        cwd=ROOT,
        env=env,
    )
    result = subprocess.run(
        ["msgattrib", "--untranslated", "--no-location", str(PO)], capture_output=True, text=True, check=True
    )
    missing = [
        line[7:-1] for line in result.stdout.splitlines() if line.startswith('msgid "') and line != 'msgid ""'
    ]
    if missing:
        print(f"{len(missing)} messages have no Chinese yet (add them to a file in locale/fragments/):")
        for msgid in missing:
            print(f"  {msgid}")
        return 1
    print("zh-hans translation complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
