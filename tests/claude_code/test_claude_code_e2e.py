"""The subagent end to end: the real Claude Code CLI, headless, in a copy of the example shop after
`itarch init`, talking only to our fake Anthropic server on loopback.

The fake server plays both models from the requests it receives: the main agent delegates to
`integration-test-architect`; the subagent (recognised by its system prompt) gets the change's
context from the `itarch mcp` server, writes a test file, judges it with `itarch check` through
Bash, and hands back the verdicts it was given. Everything between those replies is real: Claude
Code loading our subagent file and `.mcp.json`, the `itarch` CLI, the `itarch mcp` server, the
sandbox and the gates.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.claude_code.mcp_server import context_budget
from agent.claude_code.subagent import SUBAGENT_NAME, SUBAGENT_PATH
from agent.config import load_settings
from agent.context import build_context
from agent.demo.shop import ShopRepo, build_shop_repo
from agent.schema import CheckResult, Context
from tests.fakes.anthropic_server import (
    AnthropicServer,
    RecordedRequest,
    ScriptItem,
    text_message,
    tool_use_message,
)

ROOT = Path(__file__).resolve().parents[2]
PINNED_CLI = ROOT / ".tools" / "claude-code" / "node_modules" / ".bin" / "claude"
VENV_BIN = Path(os.path.abspath(sys.executable)).parent
TEST_PATH = "tests/integration/test_discount_codes_e2e.py"
TEST_SOURCE = '''\
"""Discount codes priced through the HTTP API into the stored order."""


def login(client):
    token = client.post("/login", json={"username": "alice", "password": "wonderland"})
    return {"Authorization": f"Bearer {token.get_json()['token']}"}


def test_discount_code_lowers_the_stored_total(client):
    headers = login(client)
    created = client.post(
        "/orders",
        json={"items": [{"sku": "WIDGET", "quantity": 2}], "discount_code": "SAVE10"},
        headers=headers,
    )
    assert created.status_code == 201
    stored = client.get(f"/orders/{created.get_json()['id']}", headers=headers).get_json()
    assert (stored["discount"], stored["total"]) == ("5.00", "45.00")
'''
ALLOWED_TOOLS = "Agent,Task,Read,Write,Bash(itarch *),mcp__itarch__context,mcp__itarch__check"


@pytest.fixture
def claude() -> Path:
    """The pinned Claude Code CLI; the test skips (before building anything) when it is missing."""
    found = os.environ.get("CLAUDE_CODE_BIN") or (str(PINNED_CLI) if PINNED_CLI.exists() else "")
    if not found or not os.access(found, os.X_OK):
        pytest.skip(
            "the Claude Code CLI is not installed: run `make test-tools` "
            "(scripts/install_claude_code.sh needs npm) or set CLAUDE_CODE_BIN"
        )
    return Path(found)


# ---------------------------------------------------------------- reading requests


def system_blocks(body: dict[str, Any]) -> list[str]:
    system = body.get("system") or []
    if isinstance(system, str):
        return [system]
    return [b.get("text", "") for b in system if isinstance(b, dict)]


def blocks(body: dict[str, Any], role: str, kind: str) -> list[dict[str, Any]]:
    found = []
    for msg in body.get("messages", []):
        if msg.get("role") == role and isinstance(msg.get("content"), list):
            found += [b for b in msg["content"] if b.get("type") == kind]
    return found


def tool_names(body: dict[str, Any]) -> set[str]:
    return {t.get("name", "") for t in body.get("tools") or []}


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "\n".join(c.get("text", "") for c in content if c.get("type") == "text")
    return str(content or "")


def result_for(body: dict[str, Any], tool: str) -> str:
    """The tool_result text of the (single) call of `tool` in this conversation."""
    [use] = [b for b in blocks(body, "assistant", "tool_use") if b["name"] == tool]
    [result] = [b for b in blocks(body, "user", "tool_result") if b["tool_use_id"] == use["id"]]
    return result_text(result)


# ---------------------------------------------------------------- the two scripted models


class Script:
    """Replies as a function of each request: which conversation it belongs to, and how far on."""

    def __init__(self, shop: ShopRepo, subagent_body: str, prompt: str) -> None:
        self.shop = shop
        self.subagent_body = subagent_body.strip()
        self.prompt = prompt

    def is_subagent(self, body: dict[str, Any]) -> bool:
        return any(text.startswith(self.subagent_body) for text in system_blocks(body))

    def is_main(self, body: dict[str, Any]) -> bool:
        first = body.get("messages", [{}])[0].get("content")
        return self.prompt in json.dumps(first) and bool(tool_names(body) & {"Agent", "Task"})

    def __call__(self, request: RecordedRequest) -> ScriptItem:
        body = request.body
        if self.is_subagent(body):
            return self.subagent(body)
        if self.is_main(body):
            return self.main(body)
        # Side calls (titles, summaries, quick classifications): a short plain answer.
        return text_message("Integration tests")

    def main(self, body: dict[str, Any]) -> dict[str, Any]:
        delegated = blocks(body, "user", "tool_result")
        if not delegated:
            agent_tool = "Agent" if "Agent" in tool_names(body) else "Task"
            return tool_use_message(
                agent_tool,
                {
                    "description": "Write integration tests",
                    "prompt": f"Write integration tests for the change since {self.shop.base}.",
                    "subagent_type": SUBAGENT_NAME,
                    "run_in_background": False,
                },
            )
        return text_message("The integration-test architect reports:\n" + result_text(delegated[0]))

    def subagent(self, body: dict[str, Any]) -> dict[str, Any]:
        done = [b["name"] for b in blocks(body, "assistant", "tool_use")]
        if "mcp__itarch__context" not in done:
            return tool_use_message("mcp__itarch__context", {"base": self.shop.base})
        if "Write" not in done:
            target = self.shop.path / TEST_PATH
            return tool_use_message("Write", {"file_path": str(target), "content": TEST_SOURCE})
        if "Bash" not in done:
            return tool_use_message(
                "Bash",
                {
                    "command": f"itarch check {TEST_PATH} --base {self.shop.base} --json",
                    "description": "Judge the new integration tests",
                },
            )
        return text_message(verdict_summary(result_for(body, "Bash")))


def check_result(output: str) -> CheckResult:
    """The JSON document `itarch check --json` printed (Bash merges any stderr lines around it)."""
    start = output.index("{")
    document, _ = json.JSONDecoder().raw_decode(output[start:])
    return CheckResult.model_validate(document)


def verdict_summary(check_output: str) -> str:
    """What the subagent hands back: each test's verdict exactly as `check` returned it."""
    try:
        result = check_result(check_output)
    except ValueError:
        return f"itarch check failed: {check_output}"
    return "\n".join(f"VERDICT {t.nodeid}: {t.verdict}" for f in result.files for t in f.tests)


# ---------------------------------------------------------------- the test


@pytest.fixture
def shop_with_init(tmp_path: Path) -> ShopRepo:
    shop = build_shop_repo(tmp_path / "shop")
    proc = subprocess.run(
        [str(VENV_BIN / "itarch"), "init"], cwd=shop.path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return shop


def claude_env(tmp_path: Path, base_url: str) -> dict[str, str]:
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    keep = ("LANG", "LC_ALL", "TMPDIR", "TERM", "USER", "LOGNAME", "SHELL")
    return {k: os.environ[k] for k in keep if k in os.environ} | {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # Judging stays real but quick: one flakiness rerun, no mutants.
        "ITARCH_RERUNS": "1",
        "ITARCH_MUTATION": "false",
    }


def test_claude_code_delegates_to_the_subagent_which_grounds_and_judges_with_itarch(
    claude: Path, shop_with_init: ShopRepo, tmp_path: Path
) -> None:
    shop = shop_with_init
    prompt = f"Write integration tests for my change since {shop.base[:12]}."
    agent_file = (shop.path / SUBAGENT_PATH).read_text(encoding="utf-8")
    body = agent_file.split("---\n", 2)[2]
    script = Script(shop, body, prompt)
    settings = load_settings(shop.path)
    # What `context` must serve: the tree as the subagent finds it, before it writes its test.
    expected = build_context(
        shop.path,
        base=shop.base,
        budget_tokens=context_budget(settings.context_tokens),
        tests_root=settings.tests_root,
    )

    with AnthropicServer(respond=script) as server:
        proc = subprocess.run(
            [str(claude), "-p", prompt, "--output-format", "json", "--allowedTools", ALLOWED_TOOLS],
            cwd=shop.path,
            env=claude_env(tmp_path, server.base_url),
            capture_output=True,
            text=True,
            timeout=180,
        )
        requests = [r.body for r in server.message_requests()]

    assert proc.returncode == 0, proc.stderr + proc.stdout
    outcome = json.loads(proc.stdout)

    # The subagent ran with our file's body as its system prompt.
    sub = [b for b in requests if script.is_subagent(b)]
    assert sub, "no request carried the integration-test-architect system prompt"
    last = max(sub, key=lambda b: len(b["messages"]))
    calls = [(b["name"], b["input"]) for b in blocks(last, "assistant", "tool_use")]
    assert [name for name, _ in calls] == ["mcp__itarch__context", "Write", "Bash"]

    # `context` ran through MCP, and its real, structured output came back to the subagent.
    served = Context.model_validate_json(result_for(last, "mcp__itarch__context"))
    assert served.model_dump(exclude={"repo"}) == expected.model_dump(exclude={"repo"})
    assert any(seam.changed for seam in served.seams)

    # The test file was written through Claude Code's Write tool.
    assert (shop.path / TEST_PATH).read_text(encoding="utf-8") == TEST_SOURCE

    # `itarch check` ran through Bash on that file; its real verdicts came back.
    assert calls[2][1]["command"] == f"itarch check {TEST_PATH} --base {shop.base} --json"
    checked = check_result(result_for(last, "Bash"))
    [judged] = checked.files
    assert judged.path == TEST_PATH
    assert [t.verdict for t in judged.tests] == ["accepted"], judged

    # The verdicts travelled back through the subagent and the main agent into the final result.
    assert not outcome["is_error"]
    for t in judged.tests:
        assert f"VERDICT {t.nodeid}: {t.verdict}" in outcome["result"]


def test_install_script_never_fails_without_npm(tmp_path: Path) -> None:
    """`make test-tools` runs the installer first; without npm it must note it and succeed."""
    bash = shutil.which("bash")
    assert bash
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dirname", "sed", "head", "mkdir"):
        if path := shutil.which(tool):
            (bindir / tool).symlink_to(path)
    proc = subprocess.run(
        [bash, str(ROOT / "scripts" / "install_claude_code.sh")],
        env={"PATH": str(bindir), "CLAUDE_CODE_PREFIX": str(tmp_path / "prefix")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0
    assert "npm not found" in proc.stdout
    assert not (tmp_path / "prefix").exists()
