"""Hostile or broken model output, through the real client, loop, gates and sandbox.

Every case is answered inside the conversation (an `is_error` tool_result, or a user message
saying what to do), the run goes on to its end, and nothing is written into the user's tree
or outside it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.demo.script import CHECKOUT_TEST, DISCOUNT_JUSTIFICATION, DISCOUNT_TEST
from agent.demo.shop import ShopRepo
from agent.loop import CUT_OFF, NUDGE
from agent.models.scripted import FunctionModel, tool_use
from agent.pipeline import generate
from agent.schema import Reason
from agent.tools import MAX_FILE_BYTES, NAME_MAX
from tests.conftest import tree_state
from tests.fakes.anthropic_server import RecordedRequest, message, tool_use_message
from tests.reliability.support import (
    RAW_MARK,
    RawServer,
    RawToolStream,
    by_turn,
    claude,
    fast_settings,
    journals,
    last_user_text,
    read_events,
    tool_results,
    turn_of,
)

PASSING = "def test_sum():\n    assert sum([1, 2]) == 3\n"
FINISH = tool_use_message("finish", {"summary": "done"})


def propose(*files: dict[str, Any]) -> dict[str, Any]:
    # What the answer really cost, not an estimate from its (here: huge) size.
    usage = {"input_tokens": 9_000, "output_tokens": 2_000}
    return tool_use_message("propose_tests", {"files": list(files)}, usage=usage)


def file(path: str, content: str = PASSING, **more: Any) -> dict[str, Any]:
    return {"path": path, "content": content, **more}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")}


@pytest.fixture
def outside(shop: ShopRepo, tmp_path: Path) -> Path:
    """A folder beside the repository, reachable from it through the symlink tests/escape."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("not for tests\n")
    (shop.path / "tests" / "escape").symlink_to(folder, target_is_directory=True)
    return folder


# Each case: the model's turn, and what the harness must answer (in the next request).
CASES: dict[str, tuple[Callable[[Path], Any], str]] = {
    "parent traversal": (lambda out: propose(file("../test_escape.py")), "contains '..'"),
    "traversal via tests": (
        lambda out: propose(file("tests/../../outside/test_x.py")),
        "contains '..'",
    ),
    "absolute path": (lambda out: propose(file(str(out / "test_abs.py"))), "is absolute"),
    "symlink out of the repo": (
        lambda out: propose(file("tests/escape/test_link.py")),
        "through a symlink",
    ),
    "into .git": (lambda out: propose(file("tests/.git/test_x.py")), "inside .git"),
    "name too long": (
        lambda out: propose(file(f"tests/{'t' * NAME_MAX}.py")),
        f"longer than {NAME_MAX} bytes",
    ),
    "a file in the way": (
        lambda out: propose(file("tests/test_orders.py/test_x.py")),
        "'tests/test_orders.py' is a file",
    ),
    "path not in normal form": (
        lambda out: propose(file("tests//integration/./test_x.py")),
        "as 'tests/integration/test_x.py'",
    ),
    "the same file twice": (
        lambda out: propose(file("tests/test_twice.py"), file("tests/test_twice.py")),
        "proposed twice",
    ),
    "over 1 MB": (
        lambda out: propose(file("tests/test_huge.py", PASSING + "#" * MAX_FILE_BYTES)),
        f"at most {MAX_FILE_BYTES:,}",
    ),
    "NUL bytes": (
        lambda out: propose(file("tests/test_nul.py", PASSING + "\0\n")),
        "NUL characters",
    ),
    "not a Python file": (
        lambda out: propose(file("tests/integration/notes.txt")),
        "is not a Python file",
    ),
    "file without a path": (
        lambda out: propose({"content": PASSING}),
        "files.0.path\n  Field required",
    ),
    "input is a string": (
        lambda out: RawToolStream("propose_tests", json.dumps("tests/test_x.py")),
        "does not match the schema",
    ),
    "input is a list": (
        lambda out: RawToolStream("read_file", json.dumps(["shop/api.py"])),
        "read_file takes a JSON object, got list",
    ),
    "a tool the harness does not have": (
        lambda out: tool_use_message("delete_repository", {"path": "."}),
        "there is no tool 'delete_repository'",
    ),
    "cut at max_tokens mid tool call": (
        lambda out: RawToolStream(
            "propose_tests",
            '{"files": [{"path": "tests/integration/test_cut.py", "content": "def test_',
            stop_reason="max_tokens",
            text="Here are the tests.",
        ),
        CUT_OFF,
    ),
    "empty reply": (lambda out: message([], stop_reason="end_turn"), NUDGE),
}


JUDGED_BY_THE_PATH_GATE = {
    "parent traversal",
    "traversal via tests",
    "absolute path",
    "symlink out of the repo",
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_output_is_answered_in_the_conversation_and_never_written(
    shop: ShopRepo, outside: Path, case: str
) -> None:
    turn, said = CASES[case]
    before, outside_before = tree_state(shop.path), snapshot(outside)
    settings = fast_settings(shop.path)
    with RawServer(respond=by_turn(turn(outside), FINISH), chunk_size=1 << 16) as server:
        report = generate(
            shop.path, settings=settings, model=claude(server, settings), base=shop.base
        )
        requests = server.message_requests()

    assert report.stopped_by == "finish" and report.accepted == []
    assert [turn_of(r) for r in requests] == [0, 1]  # asked once, answered, then finished
    if case in JUDGED_BY_THE_PATH_GATE:
        [verdict] = [t for f in report.verdicts for t in f.tests]
        assert verdict.verdict == "rejected" and verdict.reason == Reason.PATH
    else:
        assert report.verdicts == []  # refused before anything ran
    answer = requests[1]
    results = tool_results(answer)
    if results:
        assert len(results) == 1 and results[0]["is_error"] is True
        assert said in results[0]["content"]
    else:
        assert said in last_user_text(answer)
        assistant = answer.body["messages"][-2]["content"]
        assert not [b for b in assistant if b["type"] == "tool_use"]  # nothing half-written
    assert tree_state(shop.path) == before
    assert snapshot(outside) == outside_before
    [journal] = journals(shop.path)
    assert read_events(journal)[-1]["kind"] == "report"


@pytest.mark.parametrize(
    ("reply", "what"),
    [
        (RawToolStream("propose_tests", "files: [tests/test_x.py]"), "not JSON"),
        (RawToolStream("propose_tests", f'{{"note": "{RAW_MARK}"}}', raw=b"\xff\xfe"), "not UTF-8"),
    ],
)
def test_unparseable_tool_input_on_the_wire_is_asked_for_again(
    shop: ShopRepo, reply: RawToolStream, what: str
) -> None:
    before = tree_state(shop.path)
    settings = fast_settings(shop.path)
    script: list[Any] = [reply]  # a reply the base server's script type does not know
    with RawServer(script, respond=by_turn(FINISH)) as server:
        report = generate(
            shop.path, settings=settings, model=claude(server, settings), base=shop.base
        )
        requests = server.message_requests()
    assert report.stopped_by == "finish", what
    assert len(requests) == 2 and requests[0].body == requests[1].body  # the same request again
    assert report.iterations == 1  # the broken answer was never taken as a turn
    assert tree_state(shop.path) == before


def test_content_that_is_not_utf8_is_refused_before_anything_runs(shop: ShopRepo) -> None:
    """A model that is not behind JSON (a replay, a function) can hand over lone surrogates."""
    answers: list[list[dict[str, Any]]] = []

    def model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        answers.append(messages[-1]["content"])
        if len(answers) == 1:
            return [tool_use("propose_tests", {"files": [file("tests/test_u.py", "x = '\udc80'")]})]
        return [tool_use("finish", {"summary": "done"})]

    before = tree_state(shop.path)
    report = generate(
        shop.path, settings=fast_settings(shop.path), model=FunctionModel(model), base=shop.base
    )
    [result] = answers[1]
    assert result["is_error"] is True and "not valid UTF-8" in result["content"]
    assert report.verdicts == []  # refused before the gates: nothing was run
    assert tree_state(shop.path) == before


def test_endless_reading_is_cut_off_and_the_run_ends_on_its_budget(shop: ShopRepo) -> None:
    reads_per_turn, turns = 4, 20
    read = tool_use_message("read_file", {"path": "shop/payments.py"})
    usage = {"input_tokens": 2_000, "output_tokens": 100}
    reads = message(read["content"] * reads_per_turn, stop_reason="tool_use", usage=usage)
    before = tree_state(shop.path)
    settings = fast_settings(shop.path, turns=turns)
    with RawServer(respond=lambda request: reads) as server:
        report = generate(
            shop.path, settings=settings, model=claude(server, settings), base=shop.base
        )
        requests = server.message_requests()
    assert report.stopped_by == "turns" and len(requests) == turns
    answered = [r for request in requests[1:] for r in tool_results(request)]
    assert len(answered) == reads_per_turn * (turns - 1)
    served = [r for r in answered if not r.get("is_error")]
    refused = [r for r in answered if r.get("is_error")]
    assert len(served) == 60 and all("payments.py" in r["content"] for r in served)
    assert refused and all("Reading limit reached" in r["content"] for r in refused)
    assert tree_state(shop.path) == before


def test_files_accepted_but_claimed_or_redirected_before_writing_are_not_written(
    shop: ShopRepo, outside: Path
) -> None:
    """Between judging and writing, the user creates a file of that name, and a folder of the
    accepted path becomes a symlink out of the repository: neither is written through."""
    claimed, redirected = "tests/integration/test_claimed.py", "tests/late/test_redirected.py"
    bug = {"name": "test_discounted_order_is_charged_its_total", "expectation": "bug"}
    proposal = propose(
        file(claimed, CHECKOUT_TEST),
        file(redirected, DISCOUNT_TEST, tests=[bug | {"justification": DISCOUNT_JUSTIFICATION}]),
        file("tests/integration/test_broken.py", "def test_x(:\n"),
    )
    users_own = "# the user's own file\n"

    def meanwhile(request: RecordedRequest) -> Any:
        if turn_of(request) == 0:
            return proposal
        (shop.path / claimed).write_text(users_own)
        (shop.path / "tests" / "late").symlink_to(outside, target_is_directory=True)
        return FINISH

    outside_before = snapshot(outside)
    settings = fast_settings(shop.path)
    with RawServer(respond=meanwhile) as server:
        report = generate(
            shop.path, settings=settings, model=claude(server, settings), base=shop.base
        )
    assert sorted(a.path for a in report.accepted) == sorted([claimed, redirected])
    assert not any(a.written for a in report.accepted)
    assert (shop.path / claimed).read_text() == users_own
    assert snapshot(outside) == outside_before
    leftovers = [p for p in shop.path.rglob("*.tmp") if ".git" not in p.parts]
    assert leftovers == [] and os.listdir(shop.path / ".itarch" / "tmp") == []
