"""A second `itarch generate` with the same change, context and settings reuses the kept tests of
the first instead of paying again, and says so; a different change pays (real git repository,
the real CLI, a loopback model server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from agent.demo.script import CHECKOUT_PATH, CHECKOUT_TEST
from agent.demo.shop import ShopRepo
from tests.fakes.anthropic_server import AnthropicServer, tool_use_message
from tests.reliability.support import ITARCH, itarch_env

FINISH = tool_use_message("finish", {"summary": "done"})
PROPOSE = tool_use_message(
    "propose_tests",
    {"files": [{"path": CHECKOUT_PATH, "content": CHECKOUT_TEST, "purpose": "checkout"}]},
)


def _generate(shop: ShopRepo, tmp_path: Path, *script: dict[str, Any]) -> tuple[dict, int]:
    with AnthropicServer(list(script)) as server:
        proc = subprocess.run(
            [str(ITARCH), "--python", sys.executable, "generate", "--base", shop.base, "--json"],
            cwd=shop.path,
            env=itarch_env(server, tmp_path / "tmp"),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout), len(server.message_requests())


def test_the_same_run_is_paid_once(shop: ShopRepo, tmp_path: Path) -> None:
    first, paid = _generate(shop, tmp_path, PROPOSE, FINISH)
    assert (first["kept"], first["reused_from"], paid) == (1, None, 2)
    written = shop.path / CHECKOUT_PATH
    written.unlink()  # the user set the file aside; the same run brings it back for free

    again, paid = _generate(shop, tmp_path, FINISH)
    assert paid == 0
    assert again["reused_from"] == first["run_id"] and again["kept"] == 1
    assert again["cost_usd"] == "0" and again["usage"]["input_tokens"] == 0
    assert "reused the tests kept by run" in again["message"]
    assert written.read_text(encoding="utf-8") == first["accepted"][0]["content"]

    # Another change is another run.
    api = shop.path / "shop" / "api.py"
    api.write_text(api.read_text(encoding="utf-8") + "\n\ndef ping():\n    return 1\n")
    written.unlink()
    third, paid = _generate(shop, tmp_path, FINISH)
    assert third["reused_from"] is None and paid == 1
