"""What every subcommand shares: global options, the console, user errors as one line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from git import InvalidGitRepositoryError, NoSuchPathError, Repo
from rich.console import Console

from agent.config import ConfigError, Settings, load_settings
from agent.context import ContextError
from agent.examples import ExampleError
from agent.journal import JournalError
from agent.models.base import ModelError
from agent.pipeline import Interrupted, UsageError
from agent.sandbox import SandboxError, TargetPythonError

console = Console(highlight=False)  # what the user asked for: stdout
err_console = Console(stderr=True, highlight=False)


class CliError(Exception):
    """A user error raised by the CLI itself."""


USER_ERRORS: tuple[type[Exception], ...] = (
    CliError,
    ConfigError,
    ContextError,
    ExampleError,
    JournalError,
    ModelError,
    UsageError,
    SandboxError,
    TargetPythonError,
)


@dataclass
class Globals:
    repo: Path
    python: str | None
    verbose: int


def globals_of(ctx: typer.Context) -> Globals:
    obj = ctx.obj
    assert isinstance(obj, Globals)
    return obj


def resolve_repo(raw: Path) -> Path:
    """The top of the git work tree containing `raw`."""
    try:
        repo = Repo(raw, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise CliError(f"{raw} is not inside a git repository (use --repo DIR)") from None
    if repo.working_tree_dir is None:
        raise CliError(f"{raw} is a bare git repository; point --repo at a work tree")
    return Path(repo.working_tree_dir).resolve()


def settings_for(g: Globals, **flags: Any) -> Settings:
    return load_settings(g.repo, python=g.python, **flags)


@contextmanager
def user_errors() -> Iterator[None]:
    """User errors end in one clear line on stderr and exit code 2, never a traceback."""
    try:
        yield
    except USER_ERRORS as exc:
        err_console.print(f"[bold red]itarch: error:[/bold red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    except Interrupted as exc:
        err_console.print(f"itarch: {exc}", soft_wrap=True)
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        err_console.print("itarch: interrupted")
        raise typer.Exit(130) from None


def emit_json(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()
