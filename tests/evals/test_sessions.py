"""The sessions suite: the committed recording loads, the replay server answers as recorded and
says where a run diverges, and a tiny session replays through the real CLI on the example shop."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from agent.demo.script import CHECKOUT_PATH, DISCOUNT_PATH, demo_turns
from agent.demo.shop import ShopRepo
from evals import sessions, sessions_card
from evals.compat import itarch_command

CHECKOUT_TESTS = (
    "test_paid_order_is_charged_recorded_and_takes_stock",
    "test_declined_card_keeps_the_order_pending_until_a_good_card_pays",
)


def post(base_url: str, messages: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": messages}
    request = urllib.request.Request(
        f"{base_url}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": "k"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def write_session(folder: Path, responses: list[list[dict[str, Any]]], **fields: Any) -> Path:
    folder.mkdir(parents=True)
    (folder / "session.json").write_text(json.dumps({"name": folder.name, **fields}))
    for number, blocks in enumerate(responses, start=1):
        (folder / f"resp-{number:03d}.json").write_text(json.dumps(blocks))
    return folder


def test_the_recorded_session_loads_and_its_ids_are_those_its_requests_answered() -> None:
    session = sessions.select(["python-dotenv-1.1.0"])[0]
    assert len(session.responses) == len(session.requests) == len(session.usage) == 10
    assert session.target is not None and session.args == ["generate", "--base", "HEAD~1", "--json"]
    assert "--python" not in session.args and not session.env
    replies = sessions.with_ids(session)
    # Each request's tool results answer exactly the tool uses of the response before it.
    for number, shape in enumerate(session.requests[1:], start=1):
        uses = [b["id"] for b in replies[number - 1] if b["type"] == "tool_use"]
        assert [r.tool_use_id for r in shape.results] == uses
        assert shape.messages == 2 * number + 1
    assert session.recorded.stopped_by == "finish" and len(session.recorded.written) == 4


def test_the_replay_server_answers_in_order_notes_divergence_and_refuses_extra_requests(
    tmp_path: Path,
) -> None:
    first = [
        {"type": "text", "text": "reading"},
        {"type": "tool_use", "name": "read_file", "input": {"path": "a.py"}},
    ]
    last = [{"type": "tool_use", "name": "finish", "input": {"summary": "done"}}]
    shapes = [
        {"messages": 1},
        {"messages": 3, "results": [{"tool_use_id": "toolu_001_0", "tool": "read_file"}]},
    ]
    folder = write_session(
        tmp_path / "tiny",
        [first, last],
        args=["generate"],
        requests=shapes,
        usage=[{"input_tokens": 7, "output_tokens": 3}] * 2,
    )
    session = sessions.load(folder)
    user = {"role": "user", "content": "test this"}
    with sessions.ReplayServer(session) as server:
        status, reply = post(server.base_url, [user])
        assert status == 200 and reply["content"][1]["id"] == "toolu_001_0"
        assert reply["usage"]["input_tokens"] == 7 and reply["stop_reason"] == "tool_use"
        result = {
            "type": "tool_result",
            "tool_use_id": "toolu_001_0",
            "content": "no such file",
            "is_error": True,
        }
        conversation = [
            user,
            {"role": "assistant", "content": reply["content"]},
            {"role": "user", "content": [result]},
        ]
        status, reply = post(server.base_url, conversation)
        assert status == 200 and reply["content"][0]["id"] == "toolu_002_1"
        status, reply = post(server.base_url, conversation)
        assert status == 400 and "no response 3" in reply["error"]["message"]
    assert not server.errors
    assert [s.messages for s in server.seen] == [1, 3, 3]
    divergence = [d for s in server.seen for d in s.divergence]
    assert divergence == [
        "request 2: read_file result toolu_001_0 is_error=True, recorded False",
        "request 3: beyond the recording's 2, answered with an error",
    ]


def test_a_tiny_session_replays_through_the_cli_and_its_files_are_removed_after(
    tmp_path: Path, shop: ShopRepo
) -> None:
    read, _, propose, finish = demo_turns()
    folder = write_session(
        tmp_path / "shop-demo",
        [read, propose, finish],
        args=["generate", "--base", "HEAD~1", "--json", "--python", sys.executable],
        env={"ITARCH_RERUNS": "1", "ITARCH_MUTATION": "false"},
        requests=[
            {"messages": 1},
            {"messages": 3, "results": [{"tool_use_id": "toolu_001_0", "tool": "read_file"}]},
            {
                "messages": 5,
                "results": [
                    {
                        "tool_use_id": "toolu_002_1",
                        "tool": "propose_tests",
                        "verdict": "Verdict: 2 of 2 file(s) kept.",
                        "tests": {
                            f"{CHECKOUT_PATH}::{CHECKOUT_TESTS[0]}": "accepted",
                            f"{CHECKOUT_PATH}::{CHECKOUT_TESTS[1]}": "accepted",
                            f"{DISCOUNT_PATH}::test_discounted_order_is_charged_its_total": "bug",
                        },
                    }
                ],
            },
        ],
        recorded={
            "exit_code": 0,
            "stopped_by": "finish",
            "written": [CHECKOUT_PATH, DISCOUNT_PATH],
        },
    )
    session = sessions.load(folder)

    result = sessions.replay(session, shop.path, itarch_command(), timeout=240)

    assert result.exit_code == 0, result.stderr_tail
    assert result.outcome.stopped_by == "finish" and result.outcome.rounds == 1
    assert {f.path for f in result.files if f.written and f.exists} == {
        CHECKOUT_PATH,
        DISCOUNT_PATH,
    }
    assert result.git_untouched and result.ends_well, result.git_changes
    assert result.requests == 3 and not result.divergence, result.divergence
    assert sorted(result.cleaned) == sorted([CHECKOUT_PATH, DISCOUNT_PATH])
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=shop.path, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
    card = sessions_card.render(sessions.SessionsResult(sessions=[result]))
    assert "| shop-demo | yes | 0 | finish | 1 | 3 |" in card
