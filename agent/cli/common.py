"""What every subcommand shares: global options, the consoles, user errors as one line."""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from agent import git
from agent.config import Settings, load_settings
from agent.errors import UserError
from agent.log import configure
from agent.pipeline import Interrupted
from agent.report import styled

console = Console(highlight=False)  # what the user asked for: stdout
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
# The width a pipe or a file gets: wider than any line, so nothing is ever wrapped.
UNWRAPPED_WIDTH = 1 << 20


class CliError(UserError):
    """A user error raised by the CLI itself."""


# Every error a user can cause subclasses UserError (agent/errors.py): one class to catch.
USER_ERRORS: tuple[type[Exception], ...] = (UserError,)


# ---------------------------------------------------------------- global options


@dataclass
class GlobalFlags:
    """The global options as given (before or after the subcommand), not yet acted on."""

    repo: Path | None = None
    python: str | None = None
    verbose: int = 0
    json: bool = False


@dataclass
class Globals:
    """The global options of one command, acted on: the repository resolved, logging set up."""

    repo: Path
    python: str | None
    verbose: int
    repo_given: bool = False  # --repo was on the command line (else: the current directory)


def globals_of(ctx: typer.Context) -> Globals:
    obj = ctx.obj
    assert isinstance(obj, Globals)
    return obj


GLOBAL_PANEL = "Global options (before or after the command)"
REPO_HELP = "The target repository (default: the current directory)."
PYTHON_HELP = "The target project's Python interpreter (must have pytest)."
VERBOSE_HELP = "More logs on stderr: -v info, -vv (or -v 2) debug."
JSON_HELP = "Print one JSON document (commands with JSON output)."
# What each command gets besides its own parameters: (name, annotation, typer option).
_GLOBAL_PARAMETERS: list[tuple[str, Any, Any]] = [
    (
        "g_repo",
        Path | None,
        typer.Option(None, "--repo", help=REPO_HELP, rich_help_panel=GLOBAL_PANEL),
    ),
    (
        "g_python",
        str | None,
        typer.Option(None, "--python", help=PYTHON_HELP, rich_help_panel=GLOBAL_PANEL),
    ),
    (
        "g_verbose",
        int | None,
        typer.Option(None, "--verbose", "-v", help=VERBOSE_HELP, rich_help_panel=GLOBAL_PANEL),
    ),
]
_CONTEXT = "g_context"
F = TypeVar("F", bound=Callable[..., Any])


def with_globals(fn: F, *, repo: bool = True) -> F:
    """`fn` as a command that also takes the global options, which then work before the
    subcommand (the app's callback) and after it (here). Nothing is acted on before the command's
    own arguments are parsed, so `--help` works anywhere. With `repo`, the repository is resolved
    (one line and exit 2 when it is not one); `--json` before the command sets its `as_json`."""
    signature = inspect.signature(fn, eval_str=True)
    context_name = next(
        (p.name for p in signature.parameters.values() if p.annotation is typer.Context), None
    )
    keyword = inspect.Parameter.KEYWORD_ONLY
    extra = [
        inspect.Parameter(name, keyword, default=option, annotation=annotation)
        for name, annotation, option in _GLOBAL_PARAMETERS
    ]
    if context_name is None:
        extra.append(inspect.Parameter(_CONTEXT, keyword, annotation=typer.Context))
    has_json = "as_json" in signature.parameters

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        ctx: typer.Context = kwargs[context_name] if context_name else kwargs.pop(_CONTEXT)
        root = ctx.find_root().obj
        before = root if isinstance(root, GlobalFlags) else GlobalFlags()
        given = GlobalFlags(
            repo=kwargs.pop("g_repo"),
            python=kwargs.pop("g_python"),
            verbose=kwargs.pop("g_verbose"),
        )
        verbose = max(before.verbose, given.verbose or 0)
        configure(verbose)
        fit_consoles()
        raw_repo = given.repo or before.repo
        with user_errors():
            if before.json:
                if not has_json:
                    raise CliError(f"--json: `{ctx.command_path}` has no JSON output")
                kwargs["as_json"] = True
            where = raw_repo or Path(".")
            ctx.obj = Globals(
                repo=resolve_repo(where) if repo else where.resolve(),
                python=given.python or before.python,
                verbose=verbose,
                repo_given=raw_repo is not None,
            )
        return fn(**kwargs)

    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    command.__annotations__ = {
        **fn.__annotations__,
        **{p.name: p.annotation for p in extra},
    }
    return command  # type: ignore[return-value]


def resolve_repo(raw: Path) -> Path:
    """The top of the git work tree containing `raw`, as git itself sees it."""
    raw = raw.absolute()
    if not raw.exists():
        raise CliError(f"{raw} does not exist (use --repo DIR)")
    if not raw.is_dir():
        raise CliError(f"{raw} is not a directory (use --repo DIR)")
    try:
        where = git.work_tree(raw)
    except git.GitError as exc:
        raise CliError(str(exc)) from None
    refused = git.refusal(where.stderr, raw.resolve())
    if refused:
        raise CliError(refused)
    if where.bare:
        raise CliError(f"{raw} is a bare git repository; point --repo at a work tree")
    if where.top is None:
        if "work tree" in where.stderr:  # inside .git, or a work tree git cannot see
            raise CliError(f"{raw} is not inside a git work tree (use --repo DIR)")
        raise CliError(f"{raw} is not inside a git repository (use --repo DIR)")
    return where.top


def settings_for(g: Globals, **flags: Any) -> Settings:
    return load_settings(g.repo, python=g.python, **flags)


# ---------------------------------------------------------------- output


def fit_consoles() -> None:
    """A terminal is laid out at its width; a pipe or a file gets lines that are never wrapped
    (a diff, a path or a test id cut at 80 columns is a different diff, path or id)."""
    for c in (console, err_console):
        if not c.is_terminal:
            c.width = UNWRAPPED_WIDTH
            c.soft_wrap = True


def emit_json(text: str) -> None:
    emit_text(text)


def emit_text(text: str) -> None:
    """A document (JSON, a context, a file) on stdout, verbatim."""
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def output_file(path: Path, option: str) -> Path:
    """`path` if a file can be written there; checked before any work is done."""
    if path.is_dir():
        raise CliError(f"{option} {path} is a folder: give a file path")
    folder = path.parent
    if not folder.is_dir():
        raise CliError(f"{option} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CliError(f"{option} {path}: not writable; choose another path")
    return path


@contextmanager
def user_errors() -> Iterator[None]:
    """User errors end in one clear line on stderr and exit code 2, never a traceback."""
    try:
        yield
    except USER_ERRORS as exc:
        err_console.print(styled(("itarch: error:", "bold red"), f" {one_line(exc)}"))
        raise typer.Exit(2) from None
    except Interrupted as exc:
        err_console.print(styled(f"itarch: {exc}"))
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        err_console.print(styled("itarch: interrupted"))
        raise typer.Exit(130) from None


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n")).strip() or type(exc).__name__
