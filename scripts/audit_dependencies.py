#!/usr/bin/env python3
"""Audit the installed dependencies against the package registry's advisory data (pip-audit, the PyPI
vulnerability service): `python3 scripts/audit_dependencies.py`. Run by .ci/run.

Exit 0 when nothing is found, or when every finding is accepted in docs/dependencies.md (a table row
starting with the advisory id in backticks). Exit 1 on any other finding, with the package, version,
advisory and the version that fixes it. When the advisory data cannot be reached (no network, or a
registry mirror without the JSON API, which answers "not found" for every package) it says so clearly
and exits 0: an audit that could not run is reported, not mistaken for a clean one or a failure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED_FILE = ROOT / "docs" / "dependencies.md"
UNREACHABLE = re.compile(
    r"ConnectionError|NameResolution|Max retries exceeded|timed out|Temporary failure|Network is unreachable"
)


def say(message: str) -> None:
    print(f"[audit] {message}", file=sys.stderr, flush=True)


def accepted_ids() -> set[str]:
    try:
        text = ACCEPTED_FILE.read_text()
    except OSError:
        return set()
    return set(re.findall(r"^\|\s*`([A-Za-z]+-[\w-]+)`", text, flags=re.MULTILINE))


def judge(report: dict, accepted: set[str]) -> int:
    """The exit code for a pip-audit JSON report, saying why."""
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    if dependencies and not audited:
        say(f"SKIPPED: the registry answered no advisory data for any of the {len(dependencies)} installed")
        say("packages (e.g. " + dependencies[0]["skip_reason"] + ");")
        say("a mirror without the JSON API? The dependencies were NOT audited.")
        return 0
    findings, waived = [], []
    for dependency in audited:
        for vuln in dependency.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            row = (
                dependency["name"],
                dependency["version"],
                vuln["id"],
                ", ".join(vuln.get("fix_versions", [])),
            )
            (waived if ids & accepted else findings).append(row)
    skipped = len(dependencies) - len(audited)
    say(f"{len(audited)} packages audited ({skipped} skipped: not on the registry, e.g. local ones)")
    for name, version, vuln_id, _fixes in waived:
        say(f"accepted in docs/dependencies.md: {name} {version} {vuln_id}")
    if findings:
        say("known vulnerabilities: upgrade the pin to a fixed version, or record the finding in")
        say("docs/dependencies.md with the reason it does not apply:")
        for name, version, vuln_id, fixes in findings:
            say(f"  {name} {version}: {vuln_id} (fixed in {fixes or 'no release yet'})")
        return 1
    say("no known vulnerabilities")
    return 0


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "audit.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--vulnerability-service",
            "pypi",
            "--format",
            "json",
            "--output",
            str(report_path),
            "--progress-spinner",
            "off",
            "--timeout",
            "30",
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        report = json.loads(report_path.read_text()) if report_path.exists() else None
    if report is None:
        if UNREACHABLE.search(result.stderr):
            say("SKIPPED: the advisory data (the registry's vulnerability service) cannot be reached from")
            say(
                "this machine; the dependencies were NOT audited. Last error: " + result.stderr.strip()[-300:]
            )
            return 0
        say(f"pip-audit failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
        return 1
    return judge(report, accepted_ids())


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _bootstrap

    _bootstrap.bootstrap("requirements-test.txt")  # re-executes inside .venv, where pip-audit is
    sys.exit(main())
