"""`itarch hook install|uninstall|run`: the pre-push hook: what a push leaves untested."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from agent import hook as pre_push
from agent.cli.common import CliError, console, globals_of, user_errors, with_globals
from agent.hook.installer import MODES
from agent.report import styled

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
    """Install the pre-push hook (idempotent); a hook already there is kept and runs first.

    With --python, the hook runs the target project's tests (generate mode) with that interpreter.
    """
    g = globals_of(ctx)
    with user_errors():
        try:
            done = pre_push.install(g.repo, mode=mode or "check", force=force, python=g.python)
        except pre_push.HookError as exc:
            raise CliError(str(exc)) from None
    console.print(styled(done))


def uninstall(ctx: typer.Context) -> None:
    """Remove the pre-push hook and restore the one it replaced."""
    g = globals_of(ctx)
    with user_errors():
        try:
            done = pre_push.uninstall(g.repo)
        except pre_push.HookError as exc:
            raise CliError(str(exc)) from None
    console.print(styled(done))


def run(ctx: typer.Context) -> None:
    """What git runs: `hook run pre-push [--mode check|generate|block] [REMOTE URL]`.

    Reads the pushed refs on stdin; messages go to stderr. --mode overrides [tool.itarch.hook]
    mode. The hook parses these arguments itself, as when git starts it.
    """
    g = globals_of(ctx)
    if g.python:
        # The hook reads its settings itself; ITARCH_PYTHON is the flag in that layer.
        os.environ["ITARCH_PYTHON"] = g.python
    raise typer.Exit(pre_push.main(ctx.args, start=Path(g.repo)))


hook_app.command("install")(with_globals(install))
hook_app.command("uninstall")(with_globals(uninstall))
# The hook finds the repository itself, and reads its own arguments (`agent.hook.run.main`).
hook_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)(with_globals(run, repo=False))
