from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.journal import Journal, JournalError
from agent.schema import Usage


def test_events_are_appended_in_order_and_survive_a_torn_last_line(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    journal.append("run_started", base="main")
    journal.append("response", usage=Usage(input_tokens=3))
    with journal.path.open("a") as fh:
        fh.write('{"kind": "respo')  # a crash mid-write
    events = journal.events()
    assert [e["kind"] for e in events] == ["run_started", "response"]
    assert events[1]["usage"]["input_tokens"] == 3
    assert journal.events("response")[0]["kind"] == "response"


def test_two_runs_get_separate_journals_and_the_newest_is_resumed(tmp_path: Path) -> None:
    first, second = Journal.create(tmp_path), Journal.create(tmp_path)
    first.append("a")
    second.append("b")
    assert first.path != second.path
    assert Journal.open(tmp_path, first.run_id).events()[0]["kind"] == "a"
    assert Journal.open(tmp_path, None).run_id == max(first.run_id, second.run_id)


def test_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no run"):
        Journal.open(tmp_path, "nope")


def test_journal_directory_stays_out_of_git_status(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    Journal.create(tmp_path).append("x")
    status = subprocess.run(
        ["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == ""
