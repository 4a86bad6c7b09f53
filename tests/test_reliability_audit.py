"""The dependency audit's verdicts (scripts/audit_dependencies.py): a finding fails unless recorded in
docs/dependencies.md; advisory data that cannot be reached is a clear skip, not a pass or a failure."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import audit_dependencies  # noqa: E402

VULN = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fix_versions": ["9.9.9"]}


def test_a_finding_fails_naming_the_fix(capsys):
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": [VULN]}]}
    assert audit_dependencies.judge(report, set()) == 1
    assert "django 5.2.19: PYSEC-2099-1 (fixed in 9.9.9)" in capsys.readouterr().err


def test_a_recorded_finding_passes(capsys):
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": [VULN]}]}
    assert audit_dependencies.judge(report, {"CVE-2099-0001"}) == 0
    assert "accepted in docs/dependencies.md" in capsys.readouterr().err


def test_unreachable_advisory_data_is_a_clear_skip(capsys):
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "skip_reason": "not found on PyPI"}]}
    assert audit_dependencies.judge(report, set()) == 0
    assert "NOT audited" in capsys.readouterr().err


def test_the_ci_runs_the_audit_and_the_audit_reads_the_recorded_findings():
    assert "scripts/audit_dependencies.py" in (ROOT / ".ci" / "run").read_text()
    assert "pip-audit==" in (ROOT / "requirements-test.txt").read_text()
    assert audit_dependencies.ACCEPTED_FILE.exists()
