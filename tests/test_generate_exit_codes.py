"""`itarch generate`'s exit code says what happened: 0 kept, 1 nothing kept, 2 user error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.demo.script import CHECKOUT_PATH, CHECKOUT_TEST
from agent.demo.shop import ShopRepo
from tests.fakes.anthropic_server import AnthropicServer, tool_use_message
from tests.reliability.support import ITARCH, itarch_env

FINISH = tool_use_message("finish", {"summary": "done"})
BROKEN = "def test_broken(:\n"


def _propose(content: str) -> dict[str, Any]:
    files = [{"path": CHECKOUT_PATH, "content": content, "purpose": "checkout"}]
    return tool_use_message("propose_tests", {"files": files})


def _generate(shop: ShopRepo, tmp_path: Path, *script: dict[str, Any], flags: tuple[str, ...] = ()):
    with AnthropicServer(list(script)) as server:
        return subprocess.run(
            [
                str(ITARCH),
                "--python",
                sys.executable,
                "generate",
                "--base",
                shop.base,
                "--json",
                *flags,
            ],
            cwd=shop.path,
            env=itarch_env(server, tmp_path / "tmp"),
            capture_output=True,
            text=True,
            timeout=600,
        )


@pytest.mark.parametrize(
    ("script", "code", "stopped_by", "kept"),
    [
        ([_propose(CHECKOUT_TEST), FINISH], 0, "finish", 1),
        ([_propose(BROKEN), FINISH], 1, "finish", 0),  # the model gave up: nothing kept
        ([FINISH], 0, "finish", 0),  # nothing in the change to test, said plainly
    ],
    ids=["kept", "nothing-kept", "nothing-to-test"],
)
def test_exit_code_and_json_say_what_was_kept(
    shop: ShopRepo,
    tmp_path: Path,
    script: list[dict[str, Any]],
    code: int,
    stopped_by: str,
    kept: int,
) -> None:
    proc = _generate(shop, tmp_path, *script)
    assert proc.returncode == code, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert (report["stopped_by"], report["kept"]) == (stopped_by, kept)
    assert report["nothing_to_test"] is (len(script) == 1)


def test_a_budget_that_ends_a_run_with_nothing_kept_exits_1(shop: ShopRepo, tmp_path: Path) -> None:
    read = tool_use_message("read_file", {"path": "shop/api.py"})
    proc = _generate(shop, tmp_path, read, read, read, flags=("--max-turns", "2"))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["stopped_by"] == "turns"


def test_a_bad_budget_flag_is_a_user_error(shop: ShopRepo, tmp_path: Path) -> None:
    proc = _generate(shop, tmp_path, FINISH, flags=("--max-rounds", "0"))
    assert proc.returncode == 2
    assert "budget.rounds" in proc.stderr and "Traceback" not in proc.stderr
