"""The one layer that talks to git: every git command itarch runs starts here.

Plain `git` subprocesses, no GitPython: one fork per question is cheaper than that import (the
pre-push hook runs on every push), and many files at one revision are read by a single
`git cat-file --batch`. Every command runs with messages in the C locale (the first line of an
error is the one users search for) and without optional locks (reading never rewrites the
user's index). Flags a caller needs, such as `safe.directory=*` to read a repository owned by
another user or `core.quotepath=false` for names as they are, are passed by that caller as
`config`. A command that cannot start, times out or (where a caller asks for success) fails
raises `GitError`; callers turn it into their own user errors.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# git's well-known empty tree: the "parent" of a root commit.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# `config` for a repository owned by another uid (the sandbox copies it: just files to read).
TRUST_ANY_OWNER = ("safe.directory=*",)
# `config` for paths printed as they are, not C-quoted with octal escapes.
UNQUOTED_PATHS = ("core.quotepath=false",)

_DUBIOUS = re.compile(r"dubious ownership in repository at '([^']+)'")


class GitError(Exception):
    """A git command failed or could not run; the message is one line, with git's own reason.

    `returncode` is None when git did not run at all (not installed, or timed out); `stderr` is
    what git said."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr

    @property
    def not_run(self) -> bool:
        return self.returncode is None


@dataclass(frozen=True)
class Done:
    """A finished git command: exit code, raw stdout and stderr as text."""

    returncode: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def text(self, errors: str = "surrogateescape") -> str:
        return self.stdout.decode("utf-8", errors=errors)

    def reason(self) -> str:
        """git's own reason for a failure: its first fatal/error line, else its first line."""
        said = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        fatal = [line for line in said if line.startswith(("fatal:", "error:"))]
        return (fatal or said or [f"exit code {self.returncode}"])[0]


def run(
    repo: Path,
    *args: str,
    config: Iterable[str] = (),
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Done:
    """Run `git [-c config]... args...` in `repo`, whatever its exit code.

    `env` replaces the inherited environment (the locale and lock settings still apply).
    Raises GitError only when git cannot run: not installed, or past `timeout` seconds."""
    argv = ["git", *(item for pair in config for item in ("-c", pair)), *args]
    try:
        proc = subprocess.run(
            argv, cwd=repo, input=input, capture_output=True, env=_env(env), timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {_name(args)}: no answer in {timeout:g} s") from None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and not Path(repo).is_dir():
            raise GitError(f"git {_name(args)}: {repo} is not a directory") from None
        raise GitError("git is not installed (or not on PATH)") from None
    return Done(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", errors="replace"))


def git(
    repo: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    config: Iterable[str] = (),
) -> str:
    """`git args...` in `repo`: its stdout, stripped of the final newline only.

    With `check` a failure is a GitError whose message is git's own first line."""
    done = run(repo, *args, config=config, input=None if input is None else input.encode())
    if check and not done.ok:
        first = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
        raise GitError(
            f"git {' '.join(args[:3])}: {first}", returncode=done.returncode, stderr=done.stderr
        )
    # Read as text the way `subprocess.run(text=True)` reads it: universal newlines.
    text = done.text("replace").replace("\r\n", "\n").replace("\r", "\n")
    return text.removesuffix("\n")


def git_ok(repo: Path, *args: str) -> bool:
    """Whether `git args...` succeeds (for yes/no questions such as --is-ancestor)."""
    return run(repo, *args).ok


def lines(text: str) -> list[str]:
    """The non-blank lines of a command's output."""
    return [line for line in text.splitlines() if line.strip()]


def version() -> str | None:
    """What `git --version` says ("" when it says nothing), None when git is not on PATH."""
    try:
        return run(Path(os.sep), "--version").text("replace").strip()
    except GitError:
        return None


def refusal(stderr: str, where: Path) -> str | None:
    """What to tell the user when git refuses to work in a repository at all, else None.

    git (since 2.35.2) refuses a repository owned by another user unless it is listed in
    safe.directory; everything it is then asked reads as "no commits" or "unknown ref"."""
    found = _DUBIOUS.search(stderr)
    if found is None and "dubious ownership" not in stderr:
        return None
    path = found.group(1) if found else str(where)
    return (
        f"git refuses to work in {path}: it is owned by another user (git's safe.directory "
        f"check); if you trust it, run: git config --global --add safe.directory {path}"
    )


# ------------------------------------------------------------------ where and what


@dataclass(frozen=True)
class WorkTree:
    """Where `start` sits for git: the top of its work tree, or why there is none."""

    top: Path | None  # None: bare, not a repository, or git refused it
    bare: bool
    stderr: str  # what git said when there is no top


def work_tree(start: Path) -> WorkTree:
    """The work tree containing `start` (`git rev-parse --is-bare-repository --show-toplevel`)."""
    done = run(start, "rev-parse", "--is-bare-repository", "--show-toplevel")
    out = done.text().splitlines()
    bare = out[:1] == ["true"]
    top = Path(out[1]).resolve() if done.ok and len(out) >= 2 and not bare else None
    return WorkTree(top=top, bare=bare, stderr=done.stderr)


def toplevel(start: Path) -> Path:
    """The top of the work tree containing `start`."""
    return Path(git(start, "rev-parse", "--show-toplevel")).resolve()


def rev_parse(repo: Path, rev: str) -> str:
    """The full sha `rev` names (GitError when it names nothing)."""
    return git(repo, "rev-parse", "--verify", "--end-of-options", rev)


def is_commit(repo: Path, rev: str) -> bool:
    """Whether `rev` names a commit present in the repository."""
    return git_ok(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")


def parents(repo: Path, rev: str) -> list[str]:
    """The parents of commit `rev` (none for a root commit)."""
    return git(repo, "rev-list", "--parents", "-n", "1", "--end-of-options", rev).split()[1:]


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """Where `a` and `b` forked (None for unrelated histories)."""
    return git(repo, "merge-base", a, b, check=False).strip() or None


# ------------------------------------------------------------------ files


def ls_files(
    repo: Path,
    *args: str,
    config: Iterable[str] = (),
    timeout: float | None = None,
    errors: str = "surrogateescape",
) -> list[str]:
    """`git ls-files -z args...`: the paths it lists, in its order (GitError when it fails).

    `errors` says how a name that is not UTF-8 is decoded: `surrogateescape` gives back the
    bytes on the file system, `replace` a printable name."""
    done = run(repo, "ls-files", "-z", *args, config=config, timeout=timeout)
    if not done.ok:
        raise GitError(
            f"git ls-files: {done.reason()}", returncode=done.returncode, stderr=done.stderr
        )
    return [p for p in done.text(errors).split("\0") if p]


def check_ignore(
    repo: Path, paths: Sequence[str], *, config: Iterable[str] = (), timeout: float | None = None
) -> set[str]:
    """Of `paths` (relative to `repo`), the ones git ignores (`git check-ignore`, read-only)."""
    if not paths:
        return set()
    request = ("\0".join(paths) + "\0").encode("utf-8", errors="surrogateescape")
    done = run(repo, "check-ignore", "--stdin", "-z", config=config, input=request, timeout=timeout)
    return set(filter(None, done.text().split("\0")))


def show(repo: Path, rev: str, path: str, *, timeout: float | None = None) -> bytes | None:
    """`git show rev:path`: the file's bytes at `rev`, None when git has no such file there."""
    done = run(repo, "show", f"{rev}:{path}", timeout=timeout)
    return done.stdout if done.ok else None


def read_blobs(repo: Path, commit: str, paths: Sequence[str]) -> dict[str, str]:
    """The text of `paths` at `commit`, in one `git cat-file --batch` (missing ones left out)."""
    return {
        path: data.decode("utf-8", errors="replace")
        for path, data in read_blob_bytes(repo, commit, paths).items()
    }


def read_blob_bytes(repo: Path, commit: str, paths: Sequence[str]) -> dict[str, bytes]:
    """The bytes of `paths` (from the top of the tree) at `commit`, in one `git cat-file --batch`;
    missing paths, and paths that are not files, are left out."""
    if not paths:
        return {}
    request = "".join(f"{commit}:{p}\n" for p in paths)
    done = run(repo, "cat-file", "--batch", input=request.encode())
    if not done.ok:
        raise GitError(f"git cat-file: {done.stderr.strip()}", returncode=done.returncode)
    out, pos, found = done.stdout, 0, {}
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode(errors="replace").split()
        pos = end + 1
        if len(header) < 3 or header[-1] == "missing":
            continue  # "<name> missing", "<name> ambiguous"
        size = int(header[2])
        if header[1] == "blob":
            found[path] = out[pos : pos + size]
        pos += size + 1  # the object is followed by a newline
    return found


def _name(args: Sequence[str]) -> str:
    return next((a for a in args if not a.startswith("-")), "")


def _env(base: Mapping[str, str] | None) -> dict[str, str]:
    # Messages in C locale so the first line we quote is the one users search for; no optional
    # locks so reading never refreshes (rewrites) the user's index.
    return {**(os.environ if base is None else base), "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
