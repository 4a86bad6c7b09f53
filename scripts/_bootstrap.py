"""Bootstrap shared by scripts/run.py and scripts/test.py (standard library only).

1. refuse a Python older than 3.11 (Django 5.2 and the pinned packages need it);
2. create ./.venv with the current interpreter when it is missing or broken;
3. `pip install -r REQUIREMENTS` unless a hash of that file (and of the files it includes with
   `-r`/`-c`), stored in .venv, says it is already installed;
4. re-execute the calling script with the virtualenv's interpreter.

Everything after that (embedded servers, Django, Celery, pytest) happens inside the virtualenv.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

MIN_PYTHON = (3, 11)
ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements-installed.json"
# Set in the re-executed process so that a venv whose interpreter is not what we expect cannot loop.
_REEXEC_MARK = "TRACING_CENTER_BOOTSTRAPPED"


def say(message: str) -> None:
    print(f"[bootstrap] {message}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"[bootstrap] ERROR: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def check_python() -> None:
    if sys.version_info < MIN_PYTHON:
        fail(
            f"Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer is required, this is {sys.version.split()[0]} "
            f"({sys.executable}). Run the script with a newer interpreter, e.g. `python3.11 {sys.argv[0]}`."
        )


def _included_files(requirements: Path, seen: set[Path]) -> list[Path]:
    """The file and every file it pulls in with -r / -c / --requirement / --constraint."""
    requirements = requirements.resolve()
    if requirements in seen:
        return []
    seen.add(requirements)
    files = [requirements]
    pattern = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s+|=)(\S+)")
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = pattern.match(line)
        if match:
            files += _included_files(requirements.parent / match.group(1), seen)
    return files


def requirements_hash(requirements: Path) -> str:
    digest = hashlib.sha256()
    for path in _included_files(requirements, set()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _venv_works() -> bool:
    if not VENV_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(VENV_PYTHON), "-c", f"import sys; raise SystemExit(sys.version_info < {MIN_PYTHON!r})"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return probe.returncode == 0


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure_venv(requirements_name: str) -> None:
    """Create/refresh .venv for ROOT/requirements_name; return only when running inside it."""
    requirements = ROOT / requirements_name
    if not requirements.exists():
        fail(f"{requirements} is missing.")

    if not _in_venv():
        if not _venv_works():
            if VENV.exists():
                say(f"{VENV} is broken or made by an old Python: recreating it.")
                shutil.rmtree(VENV)
            say(f"creating {VENV} with {sys.executable} (Python {sys.version.split()[0]})")
            try:
                subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            except subprocess.CalledProcessError:
                fail(
                    "could not create the virtualenv. On Debian/Ubuntu install the venv module first: "
                    "`apt-get install python3-venv`."
                )

    wanted = requirements_hash(requirements)
    try:
        stamps = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        stamps = {}
    if stamps.get(requirements_name) != wanted:
        say(f"installing {requirements_name} into {VENV} (first run or requirements changed; takes a minute)")
        command = [
            str(VENV_PYTHON),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "-r",
            str(requirements),
        ]
        if subprocess.run(command).returncode != 0:
            fail(f"`{' '.join(command)}` failed; see the pip output above.")
        stamps[requirements_name] = wanted
        STAMP.write_text(json.dumps(stamps, indent=2, sort_keys=True))

    if not _in_venv():
        if os.environ.get(_REEXEC_MARK):
            fail(f"re-executed with {VENV_PYTHON} but sys.prefix is {sys.prefix}; remove {VENV} and retry.")
        os.environ[_REEXEC_MARK] = "1"
        script = Path(sys.argv[0]).resolve()
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(script), *sys.argv[1:]])


def bootstrap(requirements_name: str) -> None:
    check_python()
    ensure_venv(requirements_name)
    # Inside the virtualenv from here on: make scripts/ importable for embedded.py.
    scripts_dir = str(Path(__file__).resolve().parent)
    if scripts_dir not in sys.path:
        sys.path.insert(0, scripts_dir)
