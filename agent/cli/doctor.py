"""`itarch doctor`: is this machine and repository ready — Python, pytest, sandbox, key, git."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import typer
from pydantic import BaseModel

from agent.cli.common import USER_ERRORS, console, emit_json, globals_of, resolve_repo, settings_for
from agent.sandbox import find_python, probe_isolation


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class DoctorReport(BaseModel):
    checks: list[Check]
    sandbox_level: str
    sandbox_notes: list[str]


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Report what itarch needs and whether it is there."""
    g = globals_of(ctx)
    checks = [Check(name="itarch python", ok=True, detail=sys.version.split()[0])]
    git = shutil.which("git")
    git_version = (
        subprocess.run([git, "--version"], capture_output=True, text=True).stdout.strip()
        if git
        else ""
    )
    checks.append(Check(name="git", ok=bool(git), detail=git_version or "git not found on PATH"))
    try:
        repo = resolve_repo(g.repo)
        checks.append(Check(name="repository", ok=True, detail=str(repo)))
        settings = settings_for(g.__class__(repo=repo, python=g.python, verbose=g.verbose))
        python = find_python(repo, settings.python)
        checks.append(Check(name="target python + pytest", ok=True, detail=str(python)))
        key = settings.api_key is not None
    except USER_ERRORS as exc:
        checks.append(Check(name="repository / target python", ok=False, detail=str(exc)))
        key = bool(os.environ.get("ANTHROPIC_API_KEY"))
    checks.append(
        Check(
            name="ANTHROPIC_API_KEY",
            ok=key,
            detail="set" if key else "not set (itarch demo needs none)",
        )
    )
    level, notes = probe_isolation()
    checks.append(
        Check(
            name="sandbox",
            ok=level.value != "process",
            detail=level.value
            if level.value != "process"
            else "process: tests would NOT be isolated",
        )
    )
    report = DoctorReport(checks=checks, sandbox_level=level.value, sandbox_notes=notes)
    if as_json:
        emit_json(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    for c in checks:
        mark = "[green]ok[/green]  " if c.ok else "[red]no[/red]  "
        console.print(f"{mark} {c.name}: {c.detail}")
    for note in notes:
        console.print(f"     sandbox: {note}")
