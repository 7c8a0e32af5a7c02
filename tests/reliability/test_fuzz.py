"""Property tests: whatever the model sends, parsing and dispatch answer and never raise.

The loop's handling is driven with arbitrary turns against the real tool box and a journal; the
judge here only records what reaches it (the gates and sandbox are exercised elsewhere), so the
property is about the harness: every call answered once, only well-formed files judged.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agent import schema
from agent.config import Budget
from agent.context import RepoTools
from agent.demo.shop import ShopRepo
from agent.journal import Journal
from agent.loop import Loop
from agent.state import LoopState
from agent.tools import FINISH, MAX_FILE_BYTES, PROPOSE, ToolBox, proposal_files

FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
hostile_paths = st.sampled_from(
    [
        "../outside/secret.txt",
        "tests/../../outside/secret.txt",
        "escape/secret.txt",
        "escape",
        ".git/config",
        "tests/.git/x.py",
        "/etc/passwd",
        "/proc/self/environ",
        "~/.ssh/id_rsa",
        "shop\\..\\..\\outside",
        "tests//a/./b.py",
        "tests/test_orders.py/x.py",
        "tests/" + "n" * 300 + ".py",
        "",
        " ",
        "\0",
        "tests/\udc80.py",
        "tests/\ud800/test_x.py",
        "shop/api.py",
        "tests/integration/test_new.py",
    ]
)
new_tests = st.integers(0, 3).map(lambda n: f"tests/integration/test_fuzz_{n}.py")
paths = hostile_paths | new_tests | st.text(max_size=40)
contents = st.sampled_from(
    [
        "def test_a():\n    assert 1 + 1 == 2\n",
        "x = '\udc80'\n",
        "a\0b\n",
        "#" * (MAX_FILE_BYTES + 1),
    ]
) | st.text(max_size=60)
proposed_files = st.fixed_dictionaries(
    {"path": paths, "content": contents},
    optional={
        "purpose": st.text(max_size=10),
        "tests": st.lists(
            st.fixed_dictionaries(
                {"name": st.text(max_size=12)},
                optional={"expectation": st.sampled_from(["pass", "bug", "maybe"])},
            ),
            max_size=2,
        ),
    },
)
well_formed_files = st.fixed_dictionaries(
    {"path": new_tests, "content": contents},
    optional={"tests": st.lists(st.fixed_dictionaries({"name": st.text(max_size=12)}))},
)
proposals = (
    st.fixed_dictionaries({"files": st.lists(well_formed_files, min_size=1, max_size=2)})
    | st.fixed_dictionaries({"files": st.lists(proposed_files, max_size=3)})
    | json_values
    | st.dictionaries(st.sampled_from(["files", "notes", "extra"]), json_values)
)
tool_names = st.sampled_from(
    ["read_file", "search_code", "get_symbol", PROPOSE, FINISH, "", "rm", "READ_FILE"]
) | st.text(max_size=12)
tool_inputs = (
    st.fixed_dictionaries({"path": paths}, optional={"start": json_values, "end": json_values})
    | st.fixed_dictionaries({"pattern": st.text(max_size=12)}, optional={"glob": paths})
    | st.fixed_dictionaries({"name": st.text(max_size=20) | hostile_paths})
    | json_values
)


@pytest.fixture
def fenced(shop: ShopRepo, tmp_path: Path) -> tuple[ShopRepo, str, Path]:
    """The shop, a canary in a folder outside it, and the symlink `escape` to that folder."""
    canary = f"canary-{secrets.token_hex(8)}"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(canary)
    (shop.path / "escape").symlink_to(outside, target_is_directory=True)
    return shop, canary, outside


def files_state(root: Path) -> dict[str, tuple[int, int, int]]:
    """(size, mtime, mode) of everything under `root`, .git included: cheap enough per example."""
    state = {}
    for folder, _, names in os.walk(root):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            state[os.path.join(folder, name)] = (info.st_size, info.st_mtime_ns, info.st_mode)
    return state


@FUZZ
@given(proposal=proposals)
def test_proposal_parsing_validates_or_says_why(tmp_path: Path, proposal: Any) -> None:
    try:
        schema.TestSuiteProposal.model_validate(proposal)
        valid = True
    except ValidationError:
        valid = False
    parsed = proposal_files(proposal, tmp_path)
    if isinstance(parsed, str):
        assert parsed.strip() and ("does not match the schema" in parsed) == (not valid)
        return
    assert valid
    assert len({f.path for f in parsed}) == len(parsed)
    for f in parsed:
        assert PurePosixPath(f.path).as_posix() == f.path and ".git" not in f.path.split("/")
        assert f.path.encode("utf-8")  # a name the file system can take
        assert "\0" not in f.content and len(f.content.encode("utf-8")) <= MAX_FILE_BYTES


class RecordingJudge:
    """Rejects every file it is given, and keeps them for the property to inspect."""

    def __init__(self) -> None:
        self.seen: list[schema.ProposedFile] = []

    def check(self, files: list[schema.ProposedFile]) -> schema.CheckResult:
        self.seen += files
        return schema.CheckResult(
            files=[
                schema.FileVerdict(
                    path=f.path,
                    tests=[schema.TestVerdict(nodeid=f"{f.path}::test", verdict="rejected")],
                )
                for f in files
            ]
        )


@FUZZ
@given(
    calls=st.lists(
        st.tuples(st.just(PROPOSE), proposals) | st.tuples(tool_names, tool_inputs), max_size=4
    ),
    stop=st.sampled_from(["tool_use", "end_turn", "max_tokens", "refusal", "pause_turn", "???"]),
    text=st.text(max_size=10),
)
def test_any_turn_is_answered_call_by_call(
    fenced: tuple[ShopRepo, str, Path], calls: list[tuple[str, Any]], stop: str, text: str
) -> None:
    shop, canary, _ = fenced
    before = files_state(shop.path)
    judge = RecordingJudge()
    journal = Journal.create(shop.path)
    loop = Loop(
        model=None,  # type: ignore[arg-type]  # the turn is handed in, not asked for
        judge=judge,
        tools=ToolBox(RepoTools(shop.path)),
        journal=journal,
        system="",
        budget=Budget(),
    )
    state = LoopState(messages=[{"role": "user", "content": [{"type": "text", "text": "go"}]}])
    content = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": value}
        for i, (name, value) in enumerate(calls)
    ]
    state.pending = (content, stop)
    loop._take_turn(state, *state.pending)

    roles = [m["role"] for m in state.messages]
    if stop == "refusal":
        assert state.stopped_by == "model_error" and roles == ["user"]
    else:
        assert roles == ["user", "assistant", "user"]
        answer = state.messages[-1]["content"]
        results = [b for b in answer if b.get("type") == "tool_result"]
        if calls and stop != "max_tokens":
            assert [r["tool_use_id"] for r in results] == [f"toolu_{i}" for i in range(len(calls))]
            assert all(isinstance(r["content"], str) and r["content"] for r in results)
        else:
            assert results == [] and answer[0]["text"]
    for judged in judge.seen:  # only well-formed files ever reach the gates
        assert len(judged.content.encode("utf-8")) <= MAX_FILE_BYTES and "\0" not in judged.content
    assert canary not in json.dumps(state.messages)
    assert {k: v for k, v in files_state(shop.path).items() if "/.itarch/" not in k} == {
        k: v for k, v in before.items() if "/.itarch/" not in k
    }
    assert [e["kind"] for e in journal.events()].count("message") == len(state.messages) - 1


@FUZZ
@given(name=tool_names, value=tool_inputs)
def test_dispatch_answers_anything_and_stays_in_the_repository(
    fenced: tuple[ShopRepo, str, Path], name: Any, value: Any
) -> None:
    shop, canary, outside = fenced
    box = ToolBox(RepoTools(shop.path))
    before = files_state(shop.path), files_state(outside)
    text, is_error = box.dispatch(name, value)
    assert isinstance(text, str) and text and isinstance(is_error, bool)
    assert canary not in text
    assert (files_state(shop.path), files_state(outside)) == before
