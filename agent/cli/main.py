"""`itarch`: the command-line entry point. One module per subcommand; this file only wires them."""

from __future__ import annotations

from pathlib import Path

import typer

from agent import __version__
from agent.cli import check, context, demo, doctor, generate, hook, init, mcp, pr
from agent.cli.common import Globals, resolve_repo, user_errors
from agent.log import configure

app = typer.Typer(
    name="itarch",
    help="Write integration tests with Claude; prove them in a sandbox before anyone reads them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"itarch {__version__}")
        raise typer.Exit()


@app.callback()
def _globals(
    ctx: typer.Context,
    repo: Path = typer.Option(Path("."), "--repo", help="The target repository (default: here)."),
    python: str | None = typer.Option(
        None, "--python", help="The target project's Python interpreter (must have pytest)."
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logs on stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    configure(verbose)
    if ctx.invoked_subcommand in {"demo", "doctor"}:
        ctx.obj = Globals(repo=repo.resolve(), python=python, verbose=verbose)
        return
    with user_errors():
        ctx.obj = Globals(repo=resolve_repo(repo), python=python, verbose=verbose)


for module in (generate, check, context, doctor, demo, init, mcp, pr, hook):
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
