"""`itarch doctor`: is this machine and repository ready — Python, pytest, sandbox, key, git.

Each check is one function in `PROBES`, run in order; it returns a `Check` (name, ok, required,
detail) and may record what later checks need on the `Target`. Every check runs and is printed;
the exit code is 1 when any required one failed."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import typer
from pydantic import BaseModel

from agent import git
from agent.cli.common import (
    USER_ERRORS,
    Globals,
    console,
    emit_json,
    globals_of,
    one_line,
    resolve_repo,
    settings_for,
    with_globals,
)
from agent.config import Settings
from agent.report import styled
from agent.sandbox import Sandbox, find_python, probe_isolation
from agent.sandbox.probe import ensure_suite_collects, existing_test_files


class Check(BaseModel):
    name: str
    ok: bool
    required: bool = True  # a required check that fails makes `itarch doctor` exit 1
    detail: str


class DoctorReport(BaseModel):
    ok: bool  # every required check passed
    checks: list[Check]
    sandbox_level: str
    sandbox_notes: list[str]


@dataclass
class Target:
    """What the checks found so far, for the checks after them."""

    given: Globals
    repo: Path | None = None  # the work tree's top, once the repository check passed
    settings: Settings | None = None
    sandbox_level: str = ""
    sandbox_notes: list[str] = field(default_factory=list)
    python: Path | None = None  # the target interpreter, once found

    @property
    def where(self) -> Path:
        return self.repo or self.given.repo


def _itarch_python(t: Target) -> Check:
    return Check(name="itarch python", ok=True, detail=sys.version.split()[0])


def _git(t: Target) -> Check:
    version = git.version()
    return Check(name="git", ok=version is not None, detail=version or "git not found on PATH")


def _repository(t: Target) -> Check:
    try:
        t.repo = resolve_repo(t.given.repo)
    except USER_ERRORS as exc:
        return Check(name="repository", ok=False, detail=one_line(exc))
    return Check(name="repository", ok=True, detail=str(t.repo))


def _configuration(t: Target) -> Check:
    try:
        t.settings = settings_for(Globals(t.where, t.given.python, t.given.verbose))
    except USER_ERRORS as exc:
        return Check(name="configuration", ok=False, detail=one_line(exc))
    pyproject = t.where / "pyproject.toml"
    if not pyproject.is_file():
        detail = "defaults (no pyproject.toml)"
    elif "[tool.itarch" in pyproject.read_text(encoding="utf-8", errors="replace"):
        detail = f"[tool.itarch] in {pyproject}"
    else:
        detail = f"defaults (no [tool.itarch] in {pyproject})"
    return Check(name="configuration", ok=True, detail=detail)


def _target_python(t: Target) -> Check:
    explicit = t.settings.python if t.settings else t.given.python
    try:
        python = find_python(t.where, explicit)
    except USER_ERRORS as exc:
        return Check(name="target python + pytest", ok=False, detail=one_line(exc))
    t.python = python
    return Check(name="target python + pytest", ok=True, detail=str(python))


def _api_key(t: Target) -> Check:
    if t.settings is not None:
        key = t.settings.api_key is not None and bool(t.settings.api_key.get_secret_value())
    else:
        key = bool(os.environ.get("ANTHROPIC_API_KEY"))
    return Check(
        name="ANTHROPIC_API_KEY",
        ok=key,
        required=False,  # check, context, demo and the hook's check mode need none
        detail="set" if key else "not set (generate and the PR bot need it; check and demo do not)",
    )


def _sandbox(t: Target) -> Check:
    level, notes = probe_isolation()
    t.sandbox_level, t.sandbox_notes = level.value, notes
    isolated = level.value != "process"
    return Check(
        name="sandbox",
        ok=isolated,
        required=False,  # tests still run, and every report says they were not isolated
        detail=level.value if isolated else "process: tests would NOT be isolated",
    )


def _existing_tests(t: Target) -> Check:
    """What `check` and `generate` do first: collect the project's own tests in the sandbox."""
    name = "existing tests collect in the sandbox"
    if t.repo is None or t.python is None or t.settings is None:
        # not a failure of its own: the check it depends on already failed and says why
        detail = "skipped: needs the repository and its python"
        return Check(name=name, ok=False, required=False, detail=detail)
    try:
        with Sandbox(t.repo, t.python, t.settings.sandbox) as sandbox:
            files = existing_test_files(sandbox.workspace, t.settings.tests_root)
            ensure_suite_collects(sandbox, t.settings.tests_root)
    except USER_ERRORS as exc:
        return Check(name=name, ok=False, detail=one_line(exc))
    detail = f"{len(files)} test file(s) sampled" if files else "no test files yet"
    return Check(name=name, ok=True, detail=detail)


PROBES: list[Callable[[Target], Check]] = [
    _itarch_python,
    _git,
    _repository,
    _configuration,
    _target_python,
    _api_key,
    _sandbox,
    _existing_tests,
]


def register(app: typer.Typer) -> None:
    app.command("doctor")(with_globals(doctor, repo=False))


def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Report what itarch needs and whether it is there; exit 1 when a required check fails."""
    target = Target(given=globals_of(ctx))
    checks = [probe(target) for probe in PROBES]
    ok = all(c.ok for c in checks if c.required)
    report = DoctorReport(
        ok=ok, checks=checks, sandbox_level=target.sandbox_level, sandbox_notes=target.sandbox_notes
    )
    if as_json:
        emit_json(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        for c in checks:
            mark = (
                ("ok  ", "green") if c.ok else ("no  ", "red") if c.required else ("warn", "yellow")
            )
            console.print(styled(mark, f" {c.name}: {c.detail}"))
        for note in target.sandbox_notes:
            console.print(styled(f"     sandbox: {note}"))
        failed = [c.name for c in checks if c.required and not c.ok]
        if failed:
            console.print(styled((f"not ready: {', '.join(failed)}", "bold red")))
    if not ok:
        raise typer.Exit(1)
