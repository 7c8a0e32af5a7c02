"""A private copy of the repository that test runs may scribble on, restored after every run.

The copy holds the tracked and untracked-but-not-ignored files, plus the ignored modules the
project's packages import (a generated `_version.py`, an extension built in place); outside git,
everything but hidden, virtualenv and cache directories. It never holds a `.git` directory, so
a test cannot see or touch the user's git state. Files are copied, never hard-linked: a test
writing through a hard link would change the user's file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent import git
from agent.fs import is_within
from agent.log import get_logger
from agent.sandbox.errors import SandboxError

log = get_logger(__name__)

# Caches that Python and test tools write next to the code; never a change worth reporting.
# (Bytecode is not reported either, but a run with files of ours cannot leave any behind: see
# `reset_bytecode`.) A `.git` is never part of the copy: one that appears was made by a test.
IGNORED_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache"}
)
_SKIPPED_WALK_DIRS = frozenset({"__pycache__", "node_modules"})


def _ignored_file(name: str) -> bool:
    return name.endswith((".pyc", ".pyo")) or name == ".coverage" or name.startswith(".coverage.")


@dataclass(frozen=True)
class _Entry:
    size: int
    mtime_ns: int
    mode: int
    link: str | None = None  # symlink target, for links kept as links


@dataclass
class Written:
    """What `write_files` added, so `restore` can take it away again without reporting it."""

    paths: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)


# Ignored files a package needs to import: versions written at install time (setuptools-scm,
# hatch-vcs) and extension modules built in place by `pip install -e .`.
_GENERATED_SUFFIXES = (".py", ".so", ".pyd")
# Trees that hold build output or other environments, never the package itself.
_ARTIFACT_DIRS = frozenset({"build", "dist", ".tox", ".nox", "node_modules", "site-packages"})


def _git_files(repo: Path, *args: str) -> list[str] | None:
    try:
        # safe.directory: a repo owned by another uid is still just files to copy
        return git.ls_files(repo, *args, config=git.TRUST_ANY_OWNER, timeout=120)
    except git.GitError:
        return None


def _generated_modules(repo: Path, listed: list[str]) -> list[str]:
    """Ignored modules inside the project's own packages (a generated `_version.py`, say)."""
    ignored = _git_files(repo, "-oi", "--exclude-standard", "--directory") or []
    package_dirs = {str(PurePosixPath(p).parent) for p in listed if p.endswith("/__init__.py")}
    found = []
    for rel in ignored:
        pure = PurePosixPath(rel)
        if rel.endswith("/") or not rel.endswith(_GENERATED_SUFFIXES):
            continue
        if _ARTIFACT_DIRS & set(pure.parts) or any(
            part.endswith(".egg-info") for part in pure.parts
        ):
            continue
        if str(pure.parent) in package_dirs:
            found.append(rel)
    return found


def _listed_by_git(repo: Path) -> list[str] | None:
    paths = _git_files(repo, "-co", "--exclude-standard")
    if paths is None:
        return None
    paths += _generated_modules(repo, paths)
    # An untracked virtualenv that nobody ignored would otherwise be copied file by file.
    venvs = {str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name == "pyvenv.cfg"}
    return [
        p
        for p in paths
        if ".git" not in PurePosixPath(p).parts
        and not any(p == v or p.startswith(v + "/") for v in venvs)
    ]


def _listed_by_walk(repo: Path) -> list[str]:
    listed: list[str] = []
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in _SKIPPED_WALK_DIRS
            and not d.endswith(".egg-info")
            and not (Path(dirpath) / d / "pyvenv.cfg").exists()
        )
        rel_dir = Path(dirpath).relative_to(repo)
        for name in sorted(filenames):
            # .env files hold secrets far more often than test inputs
            if name == ".env" or name.startswith(".env.") or _ignored_file(name):
                continue
            listed.append((rel_dir / name).as_posix())
    return listed


def _safe_relpath(rel: str) -> str:
    pure = PurePosixPath(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or ".git" in pure.parts:
        raise SandboxError(f"file path {rel!r} must be relative to the repository, without '..'")
    return pure.as_posix()


def _make_writable(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.chmod(path.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)


def remove_tree(path: Path) -> None:
    """Remove a directory tree even when a test made parts of it read-only."""

    def fix(func: object, target: str, _exc: object) -> None:
        _make_writable(Path(target).parent)
        _make_writable(Path(target))
        with contextlib.suppress(OSError):
            if Path(target).is_dir() and not Path(target).is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)

    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, onerror=fix)


class Workspace:
    """The copy at `path` of the repository at `source`, with a snapshot to undo runs against."""

    def __init__(self, source: Path, parent: Path) -> None:
        self.source = source.resolve()
        if not self.source.is_dir():
            raise SandboxError(f"repository {source} is not a directory")
        self.path = parent / (self.source.name or "repo")
        self._entries: dict[str, _Entry] = {}
        self._dirs: set[str] = set()
        self._bytecode_copy = parent / ".trusted-bytecode"  # outside the copy, never shown
        self._bytecode: dict[str, tuple[int, ...]] = {}
        self._copy()

    # ------------------------------------------------------------------ copy and snapshot

    def _copy(self) -> None:
        listed = _listed_by_git(self.source)
        mode = "git" if listed is not None else "walk"
        if listed is None:
            listed = _listed_by_walk(self.source)
        self.path.mkdir(parents=True)
        for rel in listed:
            if not _ignored_file(PurePosixPath(rel).name):  # caches are never compared either
                self._copy_one(rel)
        log.debug("workspace copied", source=str(self.source), files=len(self._entries), mode=mode)

    def _copy_one(self, rel: str) -> None:
        src = self.source / rel
        dst = self.path / rel
        if not src.exists() and not src.is_symlink():
            return  # tracked but deleted in the working tree
        self._mkdirs(PurePosixPath(rel).parent)
        if src.is_symlink():
            target = os.readlink(src)
            resolved = src.resolve()
            if is_within(resolved, self.source) and not Path(target).is_absolute():
                os.symlink(target, dst)
            elif resolved.is_file():
                # a link out of the repo would let a test write into the user's files
                shutil.copy2(resolved, dst)
            else:
                return
        elif src.is_dir():  # a submodule: copy its files, not its .git
            for dirpath, dirnames, filenames in os.walk(src):
                dirnames[:] = [d for d in dirnames if d != ".git"]
                for name in filenames:
                    sub = Path(dirpath, name).relative_to(self.source).as_posix()
                    self._copy_one(sub)
            return
        else:
            shutil.copy2(src, dst)
        self._record(rel)

    def _mkdirs(self, rel_dir: PurePosixPath) -> list[str]:
        created: list[str] = []
        for part in reversed([rel_dir, *rel_dir.parents]):
            key = part.as_posix()
            if key in (".", "") or key in self._dirs:
                continue
            target = self.path / key
            if not target.is_dir():
                target.mkdir()
                created.append(key)
            self._dirs.add(key)
        return created

    def _record(self, rel: str) -> None:
        st = (self.path / rel).lstat()
        link = os.readlink(self.path / rel) if stat.S_ISLNK(st.st_mode) else None
        self._entries[rel] = _Entry(st.st_size, st.st_mtime_ns, st.st_mode, link)

    # ------------------------------------------------------------------ per-run files

    def write_files(self, files: dict[str, str]) -> Written:
        """Write the given files into the copy; the returned record undoes them."""
        written = Written()
        for rel, content in files.items():
            key = _safe_relpath(rel)
            created = self._mkdirs_for_run(PurePosixPath(key).parent)
            written.dirs.extend(created)
            target = self.path / key
            if target.is_dir() and not target.is_symlink():
                raise SandboxError(f"file path {rel!r} is a directory in the repository")
            target.unlink(missing_ok=True)  # never write through a symlink
            target.write_text(content, encoding="utf-8")
            written.paths.append(key)
        return written

    def remove_files(self, paths: list[str]) -> list[str]:
        """Take repo files out of the copy for one run; `restore` puts them back unreported."""
        removed = []
        for rel in paths:
            key = _safe_relpath(rel)
            target = self.path / key
            if target.is_dir() and not target.is_symlink():
                raise SandboxError(f"file path {rel!r} is a directory in the repository")
            if target.exists() or target.is_symlink():
                self._delete(target)
                removed.append(key)
        return removed

    def _mkdirs_for_run(self, rel_dir: PurePosixPath) -> list[str]:
        created: list[str] = []
        for part in reversed([rel_dir, *rel_dir.parents]):
            key = part.as_posix()
            if key in (".", ""):
                continue
            target = self.path / key
            if not target.is_dir():
                if target.exists() or target.is_symlink():
                    raise SandboxError(f"cannot create directory {key!r}: a file is in the way")
                target.mkdir()
                created.append(key)
        return created

    # ------------------------------------------------------------------ undo a run

    def restore(self, written: Written | None = None) -> list[str]:
        """Put the copy back as it was; return the repo paths the run changed (sorted).

        Files from `written` are taken away (or, when they replaced a repo file, restored)
        without being reported. Caches (`__pycache__`, `.pytest_cache`, ...) are left alone.
        """
        ours = set(written.paths) if written else set()
        our_dirs = set(written.dirs) if written else set()
        changed: set[str] = set()
        seen_files, seen_dirs = self._scan()

        for rel in seen_files - self._entries.keys():
            if rel not in ours:
                is_dir = (self.path / rel).is_dir() and not (self.path / rel).is_symlink()
                changed.add(rel + "/" if is_dir else rel)
            self._delete(self.path / rel)
        for rel, entry in list(self._entries.items()):
            if rel in seen_files and self._unchanged(rel, entry):
                continue
            if rel not in ours:
                changed.add(rel)
            self._restore_one(rel, entry)
        for rel in sorted(seen_dirs - self._dirs, key=len, reverse=True):
            target = self.path / rel
            if not target.is_dir():
                continue
            leftovers = [p for p in target.rglob("*") if not p.is_dir()]
            if (
                rel not in our_dirs
                and not leftovers
                and not any(c.startswith(rel + "/") for c in changed)
            ):
                changed.add(rel + "/")
            remove_tree(target)
        for rel in self._dirs:
            (self.path / rel).mkdir(parents=True, exist_ok=True)
        return sorted(changed)

    def _scan(self) -> tuple[set[str], set[str]]:
        files: set[str] = set()
        dirs: set[str] = set()
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            try:
                with os.scandir(self.path / rel_dir) as it:
                    entries = list(it)
            except OSError:
                _make_writable(self.path / rel_dir)
                continue
            for item in entries:
                rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
                if item.name == ".git":
                    files.add(rel)  # reported and removed whole, never looked into
                elif item.is_dir(follow_symlinks=False):
                    if item.name in IGNORED_DIRS:
                        continue
                    dirs.add(rel)
                    stack.append(rel)
                elif not _ignored_file(item.name):
                    files.add(rel)
        return files, dirs

    # ------------------------------------------------------------------ bytecode caches

    def _bytecode_files(self) -> dict[str, os.stat_result]:
        found = {}
        for dirpath, dirnames, filenames in os.walk(self.path):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for name in filenames:
                if _ignored_file(name) and name.endswith((".pyc", ".pyo")):
                    path = os.path.join(dirpath, name)
                    found[os.path.relpath(path, self.path)] = os.lstat(path)
        return found

    def trust_bytecode(self) -> None:
        """Keep the caches as they are now (after a run of only the repository's own code)."""
        remove_tree(self._bytecode_copy)
        self._bytecode = {}
        for rel, st in self._bytecode_files().items():
            if stat.S_ISREG(st.st_mode):
                kept = self._bytecode_copy / rel
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.path / rel, kept)
                self._bytecode[rel] = _identity(os.lstat(self.path / rel))

    def reset_bytecode(self) -> list[str]:
        """Put the trusted caches back and delete every other one; return what was touched.

        A cache is trusted only if it is the very file `trust_bytecode` saw (inode, size, times,
        including the ctime no one can set back), so a rewritten one is replaced too.
        """
        touched = []
        for rel, st in self._bytecode_files().items():
            if self._bytecode.get(rel) != _identity(st):
                self._delete(self.path / rel)
                touched.append(rel)
        for rel in self._bytecode:
            target = self.path / rel
            if not target.exists() and (self._bytecode_copy / rel).is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self._bytecode_copy / rel, target)
                self._bytecode[rel] = _identity(os.lstat(target))
        return sorted(touched)

    def _unchanged(self, rel: str, entry: _Entry) -> bool:
        target = self.path / rel
        st = target.lstat()
        if entry.link is not None:
            return stat.S_ISLNK(st.st_mode) and os.readlink(target) == entry.link
        if st.st_size != entry.size or st.st_mode != entry.mode:
            return False
        if st.st_mtime_ns == entry.mtime_ns:
            return True
        # Touched but maybe not changed: compare the bytes, then put the timestamp back.
        if _same_bytes(target, self.source / rel):
            os.utime(target, ns=(st.st_atime_ns, entry.mtime_ns), follow_symlinks=False)
            return True
        return False

    def _restore_one(self, rel: str, entry: _Entry) -> None:
        target = self.path / rel
        self._delete(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        _make_writable(target.parent)
        if entry.link is not None:
            os.symlink(entry.link, target)
        else:
            src = self.source / rel
            if not src.exists():
                log.warning("cannot restore a file the user deleted meanwhile", path=rel)
                del self._entries[rel]
                return
            shutil.copy2(src, target)
        self._record(rel)

    def _delete(self, target: Path) -> None:
        if target.is_dir() and not target.is_symlink():
            remove_tree(target)
        else:
            _make_writable(target.parent)
            with contextlib.suppress(FileNotFoundError):
                target.unlink()


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_ino, st.st_size, st.st_mode, st.st_mtime_ns, st.st_ctime_ns)


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        with a.open("rb") as fa, b.open("rb") as fb:
            while True:
                ca, cb = fa.read(1 << 16), fb.read(1 << 16)
                if ca != cb:
                    return False
                if not ca:
                    return True
    except OSError:
        return False
