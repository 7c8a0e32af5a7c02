"""`itarch`: the command-line entry point. One module per subcommand; this file only wires them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from agent import __version__
from agent.cli import check, context, demo, doctor, generate, hook, index, init, mcp, pr, review
from agent.cli.argv import normalize_verbosity
from agent.cli.common import (
    JSON_HELP,
    PYTHON_HELP,
    REPO_HELP,
    VERBOSE_HELP,
    GlobalFlags,
)


class ItarchGroup(TyperGroup):
    """The top-level group: it sees every word of the command line, so the verbosity's spellings
    (`-v`, `-vv`, `-v 2`, `--verbose 2`) are made one here, before and after the subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalize_verbosity(list(args)))


app = typer.Typer(
    name="itarch",
    cls=ItarchGroup,
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
    repo: Path | None = typer.Option(None, "--repo", help=REPO_HELP),
    python: str | None = typer.Option(None, "--python", help=PYTHON_HELP),
    verbose: int = typer.Option(0, "--verbose", "-v", help=VERBOSE_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    # Only recorded: each command acts on them (with its own copies given after its name), once
    # its arguments are parsed, so `itarch check --help` works outside a repository.
    ctx.obj = GlobalFlags(repo=repo, python=python, verbose=verbose, json=as_json)


for module in (generate, check, review, context, index, doctor, demo, init, mcp, pr, hook):
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
