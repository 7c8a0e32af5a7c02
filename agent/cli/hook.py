"""`itarch hook install|uninstall|run`: the pre-push hook: what a push leaves untested."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from agent.cli.common import CliError, console, globals_of, user_errors
from agent.integrations import pre_push
from agent.integrations.pre_push_install import MODES

hook_app = typer.Typer(
    name="hook",
    help="The git pre-push hook: integration-test gaps of the modules a push changes.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(hook_app, name="hook")


def _mode(value: str | None) -> str | None:
    if value is not None and value not in MODES:
        raise typer.BadParameter(f"choose one of {', '.join(MODES)}")
    return value


@hook_app.command("install")
def install(
    ctx: typer.Context,
    mode: str | None = typer.Option(
        None,
        "--mode",
        callback=_mode,
        help="check (list gaps; default), generate (write tests) or block (fail the push).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Install into a shared core.hooksPath, or past a taken .legacy."
    ),
) -> None:
    """Install the pre-push hook (idempotent); a hook already there is kept and runs first."""
    g = globals_of(ctx)
    with user_errors():
        try:
            done = pre_push.install(g.repo, mode=mode or "check", force=force)
        except pre_push.HookError as exc:
            raise CliError(str(exc)) from None
    console.print(done, markup=False, soft_wrap=True)


@hook_app.command("uninstall")
def uninstall(ctx: typer.Context) -> None:
    """Remove the pre-push hook and restore the one it replaced."""
    g = globals_of(ctx)
    with user_errors():
        try:
            done = pre_push.uninstall(g.repo)
        except pre_push.HookError as exc:
            raise CliError(str(exc)) from None
    console.print(done, markup=False, soft_wrap=True)


@hook_app.command("run")
def run(
    ctx: typer.Context,
    hook: str = typer.Argument(..., help="The git hook being run: pre-push."),
    remote: str | None = typer.Argument(None, help="The remote's name (from git)."),
    url: str | None = typer.Argument(None, help="The remote's URL (from git)."),
    mode: str | None = typer.Option(
        None, "--mode", callback=_mode, help="Override [tool.itarch.hook] mode."
    ),
) -> None:
    """What git runs: reads the pushed refs on stdin; messages go to stderr."""
    if hook != "pre-push":
        with user_errors():
            raise CliError(f"unknown hook {hook!r}: only pre-push is supported")
    g = globals_of(ctx)
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    code = pre_push.run_hook(Path(g.repo), remote, url, stdin, mode=mode)
    raise typer.Exit(code)
