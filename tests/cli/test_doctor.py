"""`itarch doctor` prints every check and exits 1 when a required one fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.support import PYTHON, itarch, make_repo

REQUIRED = [
    "itarch python",
    "git",
    "repository",
    "configuration",
    "target python + pytest",
    "existing tests collect in the sandbox",
]


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(proc.stdout)["checks"]}


def test_a_ready_repository_passes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("doctor", "--json", "--python", PYTHON, cwd=repo)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = _report(proc)
    assert json.loads(proc.stdout)["ok"] is True
    assert [name for name, c in checks.items() if c["required"]] == REQUIRED
    assert all(checks[name]["ok"] for name in REQUIRED)
    # Optional checks may fail without failing the doctor (no key here).
    assert checks["ANTHROPIC_API_KEY"] == {
        "name": "ANTHROPIC_API_KEY",
        "ok": False,
        "required": False,
        "detail": "not set (generate and the PR bot need it; check and demo do not)",
    }


def test_outside_a_git_repository_fails_and_still_prints_every_check(tmp_path: Path) -> None:
    proc = itarch("doctor", cwd=tmp_path)

    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    for name in [*REQUIRED, "ANTHROPIC_API_KEY", "sandbox"]:
        assert any(f" {name}: " in line for line in lines), proc.stdout
    assert any(line.startswith("no   repository: ") for line in lines)
    assert lines[-1] == "not ready: repository"


def test_a_missing_interpreter_fails(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("doctor", "--json", "--python", "/nonexistent/python", cwd=repo)

    assert proc.returncode == 1
    checks = _report(proc)
    assert json.loads(proc.stdout)["ok"] is False
    assert checks["target python + pytest"]["ok"] is False
    assert "/nonexistent/python" in str(checks["target python + pytest"]["detail"])
    assert checks["repository"]["ok"] is True


def test_an_interpreter_without_pytest_fails(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)

    proc = itarch("--python", str(venv / "bin" / "python"), "doctor", cwd=repo)

    assert proc.returncode == 1
    [line] = [line for line in proc.stdout.splitlines() if " target python + pytest: " in line]
    assert line.startswith("no ") and "has no pytest" in line
    assert proc.stdout.splitlines()[-1] == "not ready: target python + pytest"


def test_tests_the_sandbox_cannot_collect_fail_the_doctor_with_the_cause(tmp_path: Path) -> None:
    broken = "import nosuchdep_for_doctor\n\n\ndef test_x():\n    assert nosuchdep_for_doctor\n"
    repo = make_repo(tmp_path / "calc", {"tests/test_add.py": broken, "tests/test_more.py": broken})

    proc = itarch("doctor", "--json", "--python", PYTHON, cwd=repo)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    check = _report(proc)["existing tests collect in the sandbox"]
    assert check["ok"] is False and check["required"] is True
    assert "No module named 'nosuchdep_for_doctor'" in str(check["detail"])


def test_collectable_tests_pass_the_sandbox_probe(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("doctor", "--json", "--python", PYTHON, cwd=repo)

    check = _report(proc)["existing tests collect in the sandbox"]
    assert check["ok"] is True and "1 test file(s) sampled" in str(check["detail"])
