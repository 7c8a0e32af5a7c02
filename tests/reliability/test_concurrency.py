"""Two `itarch generate` processes on one repository at once keep to their own journal,
workspace and files; a run in progress cannot be resumed by a second process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent.demo.script import (
    CHECKOUT_TEST,
    DISCOUNT_JUSTIFICATION,
    DISCOUNT_PATH,
    DISCOUNT_TEST,
)
from agent.demo.shop import ShopRepo
from tests.conftest import tree_state
from tests.fakes.anthropic_server import AnthropicServer, tool_use_message
from tests.reliability.support import (
    Gate,
    by_turn,
    itarch_env,
    journals,
    kill9,
    mentioning,
    read_events,
    run_itarch,
    start_itarch,
)

FINISH = tool_use_message("finish", {"summary": "done"})
BUG = {
    "name": "test_discounted_order_is_charged_its_total",
    "expectation": "bug",
    "justification": DISCOUNT_JUSTIFICATION,
}


def proposal(run: str) -> dict[str, Any]:
    """A file of the run's own, and one path both runs want (their contents differ)."""
    return tool_use_message(
        "propose_tests",
        {
            "files": [
                {"path": own_path(run), "content": f"# run {run}\n{CHECKOUT_TEST}"},
                {"path": DISCOUNT_PATH, "content": f"# run {run}\n{DISCOUNT_TEST}", "tests": [BUG]},
            ]
        },
    )


def own_path(run: str) -> str:
    return f"tests/integration/test_checkout_{run}.py"


def test_two_runs_at_once_keep_apart(shop: ShopRepo, tmp_path: Path) -> None:
    before = tree_state(shop.path)
    tmpdir = tmp_path / "tmp"
    runs = ["a", "b"]
    with (
        AnthropicServer(respond=by_turn(proposal("a"), FINISH)) as a,
        AnthropicServer(respond=by_turn(proposal("b"), FINISH)) as b,
    ):
        procs = [
            start_itarch(shop.path, itarch_env(server, tmpdir), "generate", "--base", shop.base)
            for server in (a, b)
        ]
        try:
            outputs = [proc.communicate(timeout=120) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    kill9(proc)
        asked = [len(server.message_requests()) for server in (a, b)]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in outputs]
    assert all(1 <= n <= 2 for n in asked)  # a proposal (and a finish if one was refused)

    reports = {}
    for path in journals(shop.path):
        events = read_events(path)  # every line a whole JSON object: nothing interleaved
        assert events[0]["kind"] == "run_started" and events[-1]["kind"] == "report"
        assert [e["kind"] for e in events].count("report") == 1
        report = events[-1]["report"]
        accepted = {a["path"] for a in report["accepted"]}
        [run] = [r for r in runs if own_path(r) in accepted]
        reports[run] = report
        assert report["run_id"] == path.parent.name
    assert sorted(reports) == runs

    shared_writers = []
    for run, report in reports.items():
        written = {a["path"]: a["written"] for a in report["accepted"]}
        assert written[own_path(run)] is True
        assert (shop.path / own_path(run)).read_text() == f"# run {run}\n" + CHECKOUT_TEST
        if written.get(DISCOUNT_PATH):
            shared_writers.append(run)
        elif DISCOUNT_PATH not in written:  # the other run's file was already there when judged
            [shared] = [f for f in report["verdicts"] if f["path"] == DISCOUNT_PATH]
            assert {t["reason"] for t in shared["tests"]} == {"path"}
    # The path both wanted was written once, whole, by one of them; the other says it was not.
    [writer] = shared_writers
    assert (shop.path / DISCOUNT_PATH).read_text().startswith(f"# run {writer}\n")
    after = tree_state(shop.path)
    new_files = [own_path("a"), own_path("b"), DISCOUNT_PATH]
    assert sorted(after["<status>"].splitlines()) == sorted(f"?? {p}" for p in new_files)
    assert after["<HEAD>"] == before["<HEAD>"] and after["<index>"] == before["<index>"]
    assert os.listdir(tmpdir) == [] and not mentioning(str(tmpdir))


def test_a_run_in_progress_cannot_be_resumed_by_another_process(
    shop: ShopRepo, tmp_path: Path
) -> None:
    read = tool_use_message("read_file", {"path": "shop/db.py"})
    gate = Gate(turn=1, then=by_turn(read, FINISH))
    with AnthropicServer(respond=gate) as server:
        env = itarch_env(server, tmp_path / "tmp")
        first = start_itarch(shop.path, env, "generate", "--base", shop.base)
        try:
            assert gate.asked.wait(60), "the first run never asked for its second turn"
            [journal] = journals(shop.path)
            held = journal.read_bytes()
            second = run_itarch(shop.path, env, "generate", "--resume", "latest")
            assert journal.read_bytes() == held  # the second process wrote nothing to it
        finally:
            gate.release.set()
        _, err = first.communicate(timeout=60)
        asked = len(server.message_requests())
    assert second.returncode == 2
    [line] = second.stderr.strip().splitlines()
    assert f"run {journal.parent.name} is in progress in another itarch process" in line
    assert first.returncode == 0, err
    assert asked == 2  # the refused resume asked the model nothing
    assert read_events(journal)[-1]["report"]["stopped_by"] == "finish"
