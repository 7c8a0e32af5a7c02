"""The CLI as a user runs it: a real `itarch` process, real git repositories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.demo.shop import ShopRepo
from tests.conftest import tree_state

ITARCH = str(Path(sys.executable).parent / "itarch")


def itarch(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "ITARCH_"))}
    return subprocess.run(
        [ITARCH, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=base_env | (env or {}),
        timeout=300,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert fragment in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "error" in line]) == 1


def test_generate_without_a_key_is_one_clear_line(shop: ShopRepo) -> None:
    before = tree_state(shop.path)
    proc = itarch("generate", "--base", shop.base, cwd=shop.path)
    assert_one_line_error(proc, "ANTHROPIC_API_KEY")
    assert tree_state(shop.path) == before


def test_not_a_git_repository(tmp_path: Path) -> None:
    assert_one_line_error(
        itarch("context", "--base", "HEAD", cwd=tmp_path), "not inside a git repository"
    )


def test_bad_base_ref_is_named(shop: ShopRepo) -> None:
    proc = itarch("context", "--base", "no-such-ref", cwd=shop.path)
    assert_one_line_error(proc, "no-such-ref")


def test_bad_config_is_named(shop: ShopRepo) -> None:
    pyproject = shop.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.itarch]\nreruns = 'lots'\n")
    proc = itarch("generate", "--base", shop.base, cwd=shop.path, env={"ANTHROPIC_API_KEY": "k"})
    assert_one_line_error(proc, "reruns")


def test_generate_needs_a_scope(shop: ShopRepo) -> None:
    assert_one_line_error(itarch("generate", cwd=shop.path), "--base")


def test_context_json_is_one_document(shop: ShopRepo) -> None:
    proc = itarch("context", "--base", shop.base, "--json", cwd=shop.path)
    assert proc.returncode == 0, proc.stderr
    ctx = json.loads(proc.stdout)
    assert ctx["base"] == shop.base
    assert any(c["path"].startswith("shop/") for c in ctx["changed"])
    assert ctx["seams"]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_doctor_reports_bwrap(shop: ShopRepo) -> None:
    proc = itarch("--python", sys.executable, "doctor", "--json", cwd=shop.path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["sandbox_level"] == "bwrap"
    assert {c["name"] for c in report["checks"]} >= {"git", "sandbox", "ANTHROPIC_API_KEY"}


def test_demo_repairs_a_test_keeps_one_and_reports_a_bug(tmp_path: Path) -> None:
    proc = itarch("demo", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["model_source"] == "scripted"
    assert report["iterations"] >= 2
    assert len(report["accepted"]) >= 1
    assert len(report["bugs"]) >= 1
    assert all(b["verdict"] == "bug" for b in report["bugs"])


def test_demo_says_the_model_was_scripted(tmp_path: Path) -> None:
    proc = itarch("demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "SCRIPTED" in proc.stdout
    assert "accepted" in proc.stdout and "suspected bug" in proc.stdout
    # The repair is shown: the first proposal's slip was rejected, the second was kept.
    first, second = proc.stdout.split("proposal 1", 1)[1].split("proposal 2", 1)
    assert "rejected (fails" in first and "rejected" not in second.split("Model:", 1)[0]


def test_check_of_a_file_that_is_not_text_is_one_clear_line(shop: ShopRepo) -> None:
    target = shop.path / "tests" / "test_binary.py"
    target.write_bytes(b"\xff\xfe\x00binary")
    assert_one_line_error(itarch("check", str(target), cwd=shop.path), "not UTF-8")
