"""`itarch init`: set a repository up for Claude Code (subagent + MCP server), the hook and CI.

Every step is idempotent and reports one `Step` per file. A file the user changed is kept unless
`force` is given: init never silently throws away someone's edits.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from agent.claude_code.subagent import SUBAGENT_PATH, subagent_file
from agent.errors import UserError
from agent.log import get_logger

log = get_logger(__name__)

MCP_CONFIG = Path(".mcp.json")
MCP_SERVER_NAME = "itarch"
WORKFLOW_PATH = Path(".github/workflows/itarch.yml")

Action = Literal["created", "updated", "replaced", "unchanged", "kept", "installed"]


class InitError(UserError):
    """A set-up step cannot be done as asked; the message says why and what to do."""


class Step(BaseModel):
    """What init did to one file."""

    path: str
    action: Action
    detail: str = ""
    message: str = ""  # a whole line from a step that words its own outcome (the hook)

    def line(self) -> str:
        if self.message:
            return self.message
        return f"{self.action:<9} {self.path}" + (f"  ({self.detail})" if self.detail else "")


MCP_COMMAND = "itarch"  # on PATH: .mcp.json is committed, so no path into one machine's venv


def mcp_server_entry() -> dict[str, Any]:
    """The `.mcp.json` entry for the itarch server (stdio; repo = the client's working dir)."""
    return {"type": "stdio", "command": MCP_COMMAND, "args": ["mcp"], "env": {}}


def this_itarch() -> Path | None:
    """The console script of the installation running now, if there is one."""
    # Not resolved: a venv's python is a symlink, and the console script lives beside the link.
    bindir = Path(os.path.abspath(sys.executable)).parent
    script = bindir / ("itarch.exe" if os.name == "nt" else "itarch")
    return script if script.is_file() and os.access(script, os.X_OK) else None


def assumptions() -> list[str]:
    """What the Claude Code set-up takes for granted, and how to change it: one line each."""
    on_path = shutil.which(MCP_COMMAND)
    mine = this_itarch()
    if on_path:
        found = f"here it is {on_path}"
    elif mine:
        found = f"it is not on this PATH; this installation's is {mine}"
    else:
        found = "it is not on this PATH"
    return [
        f"note: {MCP_CONFIG} starts the server as `{MCP_COMMAND} mcp`, so `{MCP_COMMAND}` must be "
        f"on the PATH Claude Code runs with ({found}). To use another one, or to name the target "
        f'project\'s interpreter, edit the "{MCP_SERVER_NAME}" server in {MCP_CONFIG}: '
        f'"command": "/path/to/itarch", "args": ["mcp", "--python", "/path/to/python"]',
        f"note: when the MCP tools are unavailable, the subagent ({SUBAGENT_PATH.as_posix()}) "
        f"runs `{MCP_COMMAND} context` and `{MCP_COMMAND} check` in a shell: that also needs "
        f"`{MCP_COMMAND}` on PATH",
    ]


def _write_atomic(path: Path, text: str) -> None:
    """A crash leaves the old file or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_file(repo: Path, rel: Path, text: str, *, force: bool) -> Step:
    """Write `text` to `repo/rel` unless a different copy is there (then only when forced)."""
    target = repo / rel
    shown = rel.as_posix()
    if target.is_file():
        if target.read_text(encoding="utf-8") == text:
            return Step(path=shown, action="unchanged")
        if not force:
            return Step(
                path=shown,
                action="kept",
                detail="differs from itarch's version; --force replaces it",
            )
        _write_atomic(target, text)
        return Step(path=shown, action="replaced")
    if target.exists():
        raise InitError(f"{shown} exists and is not a regular file")
    _write_atomic(target, text)
    return Step(path=shown, action="created")


def install_subagent(repo: Path, *, force: bool = False) -> Step:
    return install_file(repo, SUBAGENT_PATH, subagent_file(), force=force)


def register_mcp_server(repo: Path, *, force: bool = False) -> Step:
    """Add the `itarch` server to `.mcp.json`, keeping every other server and key as it was."""
    target = repo / MCP_CONFIG
    shown = MCP_CONFIG.as_posix()
    config: dict[str, Any] = {}
    if target.exists():
        try:
            loaded = json.loads(target.read_text(encoding="utf-8") or "{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InitError(f"{shown} is not valid JSON ({exc}); fix or remove it") from None
        if not isinstance(loaded, dict):
            raise InitError(f"{shown} must hold a JSON object; fix or remove it")
        config = loaded
    servers = config.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise InitError(f'"mcpServers" in {shown} must be a JSON object; fix or remove it')
    wanted = mcp_server_entry()
    current = servers.get(MCP_SERVER_NAME)
    if current == wanted:
        return Step(path=shown, action="unchanged")
    if current is not None and not force:
        return Step(
            path=shown,
            action="kept",
            detail=f'server "{MCP_SERVER_NAME}" differs from itarch\'s entry; --force replaces it',
        )
    servers[MCP_SERVER_NAME] = wanted
    existed = target.exists()
    _write_atomic(target, json.dumps(config, indent=2) + "\n")
    if current is not None:
        return Step(path=shown, action="replaced", detail=f'server "{MCP_SERVER_NAME}"')
    if existed:
        return Step(path=shown, action="updated", detail=f'added server "{MCP_SERVER_NAME}"')
    return Step(path=shown, action="created", detail=f'server "{MCP_SERVER_NAME}"')


def install_hook(repo: Path, *, force: bool = False, python: str | None = None) -> Step:
    try:
        from agent import hook as pre_push
    except ImportError as exc:
        raise InitError(f"the git hook is not available in this installation ({exc})") from None
    try:
        message = pre_push.install(repo, force=force, python=python)
    except pre_push.HookError as exc:
        raise InitError(str(exc)) from None
    return Step(path="pre-push hook", action="installed", message=message.strip())


def install_workflow(repo: Path, *, force: bool = False) -> Step:
    try:
        from agent.github.api import workflow_text
    except ImportError as exc:
        raise InitError(
            f"the GitHub workflow is not available in this installation ({exc})"
        ) from None
    return install_file(repo, WORKFLOW_PATH, workflow_text(), force=force)


def init(
    repo: Path,
    *,
    claude: bool = True,
    hook: bool = False,
    ci: bool = False,
    force: bool = False,
    python: str | None = None,
) -> Iterator[Step]:
    """Run the chosen set-up steps in order, yielding each as it is done (so a later step's
    error does not hide what the earlier ones already changed). `python` is the target
    project's interpreter, for the hook."""
    steps: list[Callable[..., Step]] = []
    if claude:
        steps += [install_subagent, register_mcp_server]
    if hook:
        steps.append(functools.partial(install_hook, python=python))
    if ci:
        steps.append(install_workflow)
    for run in steps:
        step = run(repo, force=force)
        log.debug("init", path=step.path, action=step.action)
        yield step
