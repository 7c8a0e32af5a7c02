"""Crashes and Ctrl-C lose nothing, and `--resume` asks the model nothing it already answered.

`itarch generate` runs as a real process against the test server and is killed with SIGKILL at
each step of the loop: while it waits for the model, right after an answer was journaled, and
while the sandbox runs. Every prefix of a journal is a state a crash can leave, so resuming
from each one of them is checked too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.demo.script import CHECKOUT_PATH, CHECKOUT_TEST
from agent.demo.shop import ShopRepo
from agent.journal import RUNS_DIR, Journal
from agent.pipeline import generate, write_new_file
from agent.resume import state_from_journal
from agent.schema import AcceptedFile
from tests.conftest import tree_state
from tests.fakes.anthropic_server import AnthropicServer, tool_use_message
from tests.reliability.support import (
    Gate,
    alive,
    by_turn,
    claude,
    descendants,
    fast_settings,
    itarch_env,
    journals,
    kill9,
    kinds,
    mentioning,
    read_events,
    run_itarch,
    start_itarch,
    turn_of,
    wait_for,
)

USAGE = {"input_tokens": 4_000, "output_tokens": 300}
BROKEN_PATH = "tests/integration/test_broken.py"
READ = tool_use_message("read_file", {"path": "shop/payments.py"}, usage=USAGE)
PROPOSE = tool_use_message(
    "propose_tests",
    {
        "files": [
            {"path": CHECKOUT_PATH, "content": CHECKOUT_TEST, "purpose": "checkout"},
            {"path": BROKEN_PATH, "content": "def test_x(:\n", "purpose": "broken"},
        ]
    },
    usage=USAGE,
)
FINISH = tool_use_message("finish", {"summary": "done"}, usage=USAGE)
CONVERSATION = by_turn(READ, PROPOSE, FINISH)  # one accepted file, one rejected, then finish
TURNS = 3


def responses(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["kind"] == "response")


def complete_lines(path: Path) -> list[dict[str, Any]]:
    """The events of a journal that a crash may have torn: its complete lines."""
    data = path.read_bytes()
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


def journaled(kind: str, count: int, repo: Path) -> Callable[[], bool]:
    def check() -> bool:
        found = journals(repo)
        return bool(found) and kinds_so_far(found[0]).count(kind) >= count

    return check


def kinds_so_far(path: Path) -> list[str]:
    return [e["kind"] for e in complete_lines(path)]


def judging(repo: Path, tmpdir: Path) -> Callable[[], bool]:
    """The proposal was journaled and a sandbox process (its paths are under tmpdir) runs."""
    return lambda: journaled("response", 2, repo)() and bool(mentioning(str(tmpdir)))


def assert_only_the_accepted_file_was_added(repo: Path, before: dict[str, str]) -> None:
    after = tree_state(repo)
    assert after["<status>"].splitlines() == [f"?? {CHECKOUT_PATH}"]  # no temp files, no halves
    assert (repo / CHECKOUT_PATH).read_text() == CHECKOUT_TEST
    same = {k: v for k, v in after.items() if k not in {CHECKOUT_PATH, "<status>"}}
    assert same == {k: v for k, v in before.items() if k != "<status>"}


@pytest.mark.parametrize(
    "moment",
    ["waiting for the model", "after an answer was journaled", "while the sandbox runs"],
)
def test_kill_9_then_resume_loses_nothing_and_repeats_no_answered_call(
    shop: ShopRepo, tmp_path: Path, moment: str
) -> None:
    tmpdir = tmp_path / "tmp"
    gate = Gate(turn=2, then=CONVERSATION)
    before = tree_state(shop.path)
    with AnthropicServer(respond=gate) as server:
        env = itarch_env(server, tmpdir)
        proc = start_itarch(shop.path, env, "generate", "--base", shop.base)
        try:
            if moment == "waiting for the model":
                wait_for(gate.asked.is_set, what="the third request")
            elif moment == "after an answer was journaled":
                wait_for(journaled("response", 2, shop.path), what="the proposal's journal entry")
            else:
                wait_for(judging(shop.path, tmpdir), what="a sandbox process judging the proposal")
            sandbox = descendants(proc.pid)
            kill9(proc)
        finally:
            gate.release.set()
            if proc.poll() is None:
                kill9(proc)
        # Nothing the run started outlives it; nothing was written into the tree.
        wait_for(lambda: not alive(sandbox) and not mentioning(str(tmpdir)), 10, "sandbox death")
        assert tree_state(shop.path) == before
        [journal] = journals(shop.path)
        at_kill = complete_lines(journal)
        answered = responses(at_kill)
        if moment != "waiting for the model":  # killed before the proposal was acted on
            assert answered == 2 and "verdict" not in [e["kind"] for e in at_kill]
        asked_before = len(server.message_requests())

        resumed = run_itarch(shop.path, env, "generate", "--resume", "latest")
        asked_after = [turn_of(r) for r in server.message_requests()[asked_before:]]

    assert resumed.returncode == 0, resumed.stderr
    assert asked_after == list(range(answered, TURNS))  # only what the journal had no answer to
    events = read_events(journal)
    assert responses(events) == TURNS and events[-1]["kind"] == "report"
    report = events[-1]["report"]
    assert [(a["path"], a["written"]) for a in report["accepted"]] == [(CHECKOUT_PATH, True)]
    assert_only_the_accepted_file_was_added(shop.path, before)
    assert not mentioning(str(tmpdir))


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(
    shop: ShopRepo, tmp_path: Path, stop: str
) -> None:
    tmpdir = tmp_path / "tmp"
    before = tree_state(shop.path)
    with AnthropicServer(respond=CONVERSATION) as server:
        proc = start_itarch(shop.path, itarch_env(server, tmpdir), "generate", "--base", shop.base)
        try:
            wait_for(judging(shop.path, tmpdir), what="a sandbox process judging the proposal")
            sandbox = descendants(proc.pid)
            if stop == "ctrl-c":
                os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
            else:
                proc.send_signal(signal.SIGTERM)  # what a CI runner or service manager does
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                kill9(proc)
    [journal] = journals(shop.path)
    run_id = journal.parent.name
    assert proc.returncode == 130
    assert [line for line in err.splitlines() if line.strip()] == [
        f"itarch: interrupted; continue with: itarch generate --resume {run_id}"
    ]
    assert sandbox and not alive(sandbox) and not mentioning(str(tmpdir))
    assert os.listdir(tmpdir) == []  # the sandbox's copy of the repository is gone too
    assert kinds(journal)[-1] == "interrupted"
    assert state_from_journal(Journal.open(shop.path, run_id)).pending is not None
    assert tree_state(shop.path) == before


def test_a_kill_while_a_file_is_written_leaves_no_half_and_no_temp_file(shop: ShopRepo) -> None:
    """SIGKILL at the worst moment: the content is on disk, about to be linked into place."""
    before = tree_state(shop.path)
    die_at_link = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from agent.pipeline import write_new_file\n"
        "from agent.schema import AcceptedFile\n"
        "os.link = lambda *args: os.kill(os.getpid(), signal.SIGKILL)\n"
        "write_new_file(Path(sys.argv[1]), AcceptedFile(path=sys.argv[2], content=sys.argv[3]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", die_at_link, str(shop.path), CHECKOUT_PATH, CHECKOUT_TEST],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL
    assert tree_state(shop.path) == before  # no stray temp file in tests/, no half file

    # Written again (as the resumed run does): whole, with a new file's usual permissions.
    assert write_new_file(shop.path, AcceptedFile(path=CHECKOUT_PATH, content=CHECKOUT_TEST))
    target = shop.path / CHECKOUT_PATH
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.read_text() == CHECKOUT_TEST
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_resuming_from_every_point_a_crash_can_leave(shop: ShopRepo, tmp_path: Path) -> None:
    """Cut a finished run's journal after each event (and inside each line): every cut resumes
    to the same result, asking only for the answers the cut journal does not hold."""
    rejected = tool_use_message(
        "propose_tests",
        {"files": [{"path": BROKEN_PATH, "content": "def test_x(:\n"}]},
        usage=USAGE,
    )
    conversation = by_turn(READ, rejected, FINISH)
    pristine = tmp_path / "pristine"
    shutil.copytree(shop.path, pristine, symlinks=True)
    settings = fast_settings(shop.path)
    with AnthropicServer(respond=conversation) as server:
        full = generate(
            shop.path, settings=settings, model=claude(server, settings), base=shop.base
        )
    [journal] = journals(shop.path)
    lines = journal.read_bytes().splitlines(keepends=True)
    assert responses(read_events(journal)) == TURNS and full.stopped_by == "finish"

    cuts = [(n, b"") for n in range(2, len(lines) - 1)]  # keep run_started and the context
    cuts += [(n, lines[n][: len(lines[n]) // 2]) for n in range(2, len(lines) - 1)]
    for number, (keep, torn) in enumerate(cuts):
        repo = tmp_path / f"cut-{number}"
        shutil.copytree(pristine, repo, symlinks=True)
        cut = repo / RUNS_DIR / journal.parent.name / "events.jsonl"
        cut.parent.mkdir(parents=True)
        cut.write_bytes(b"".join(lines[:keep]) + torn)
        answered = responses(complete_lines(cut))
        with AnthropicServer(respond=conversation) as server:
            report = generate(
                repo, settings=settings, model=claude(server, settings), resume=full.run_id
            )
            asked = [turn_of(r) for r in server.message_requests()]
        where = f"cut after {keep} events{' and half a line' if torn else ''}"
        assert asked == list(range(answered, TURNS)), where
        assert (report.stopped_by, report.iterations) == (full.stopped_by, full.iterations), where
        assert report.cost_usd == full.cost_usd and report.usage == full.usage, where
        assert [v.path for v in report.verdicts] == [BROKEN_PATH], where
        events = read_events(cut)  # every line whole again: the torn one was cut away
        assert events[-1]["kind"] == "report" and responses(events) == TURNS, where
