"""What `itarch` prints is what it was given: brackets are never read as markup, and output to a
pipe or a file is never wrapped."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.cli.support import PYTHON, assert_one_line_error, commit, itarch, make_repo

NAME = "test_a_parametrized_name_long_enough_that_its_node_id_runs_well_past_eighty_columns"
IDS_TEST = f"""\
import pytest

from calc import add


@pytest.mark.parametrize(
    "donnees",
    ["/etc/passwd", True, "t", {{"x": 1}}, pytest.param(1, id="true"), pytest.param(2, id="[b]")],
)
def {NAME}(donnees):
    assert add(1, 1) == 2 and donnees is not None
"""
IDS = ["/etc/passwd", "True", "t", "donnees3", "true", "[b]"]


def test_parametrize_ids_are_shown_verbatim_and_unwrapped(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", {"tests/test_ids.py": IDS_TEST})

    proc = itarch("check", "tests/test_ids.py", cwd=repo)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for test_id in IDS:
        nodeid = f"tests/test_ids.py::{NAME}[{test_id}]"
        # The whole id, on one line of the table: nothing eaten as a tag, nothing wrapped.
        assert any(nodeid in line and "accepted" in line for line in lines), proc.stdout
    again = itarch("check", "tests/test_ids.py", "--json", cwd=repo)
    assert again.returncode == 0, again.stderr
    judged = json.loads(again.stdout)
    assert len(judged["files"][0]["tests"]) == len(IDS)


def test_a_ref_with_brackets_is_named_in_one_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("context", "--base", "[/x]", cwd=repo)

    assert_one_line_error(proc, "unknown git ref '[/x]'")


def test_a_message_keeps_its_brackets(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    broken = tmp_path / "not-python"
    broken.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)

    proc = itarch("check", "tests/test_add.py", "--python", str(broken), cwd=repo)

    assert_one_line_error(proc, "set [tool.itarch] python")


def test_the_context_in_a_pipe_is_not_wrapped(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    long_line = "    return " + " + ".join(f"a * {n} - b * {n}" for n in range(12))
    assert len(long_line) > 160
    commit(repo, {"calc.py": f'"""Arithmetic."""\n\n\ndef add(a, b):\n{long_line}\n'}, "wide")

    proc = itarch("context", "--base", "HEAD~1", cwd=repo, env={"COLUMNS": "80"})

    assert proc.returncode == 0, proc.stderr
    assert f"+{long_line}" in proc.stdout.splitlines()


def test_a_long_error_in_a_pipe_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["a-folder-with-a-rather-long-name"] * 4))
    deep.mkdir(parents=True)

    proc = itarch("context", "--base", "HEAD", cwd=deep, env={"COLUMNS": "60"})

    line = assert_one_line_error(proc, "is not inside a git repository")
    assert len(line) > 100


def test_doctor_in_a_pipe_is_not_wrapped(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("doctor", "--python", PYTHON, cwd=repo, env={"COLUMNS": "40"})

    assert f"ok   target python + pytest: {PYTHON}" in proc.stdout.splitlines(), proc.stdout
