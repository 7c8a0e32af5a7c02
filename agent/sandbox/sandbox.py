"""`Sandbox`: pytest runs on a private copy of the repository, behind the isolation ladder."""

from __future__ import annotations

import fcntl
import json
import os
import resource
import secrets
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from agent.config import SandboxSettings
from agent.log import get_logger
from agent.sandbox.errors import SandboxError
from agent.sandbox.inside.itarch_boot import KEY_BYTES
from agent.sandbox.isolation import (
    INSIDE_DIR,
    Launch,
    boot_config,
    build_command,
    choose_level,
    python_roots_for,
    sandbox_env,
)
from agent.sandbox.python import inspect_python
from agent.sandbox.results import MAX_RESULTS_BYTES, build_result, read_events
from agent.sandbox.runner import run_command
from agent.sandbox.workspace import Workspace, Written, remove_tree
from agent.schema import IsolationLevel, RunResult

log = get_logger(__name__)

_PLUGIN_FILES = (
    "itarch_pytest.py",
    "itarch_boot.py",
    "itarch_options.py",
    "itarch_lines.py",
    "children/sitecustomize.py",
)


def _copy_plugin(target: Path, python: Path) -> Path:
    """A read-only copy of the plugin, outside the workspace, private to this sandbox.

    Compiled once by the target interpreter, so runs don't pay for compiling it each time
    (nothing can write a .pyc into a read-only directory later).
    """
    target.mkdir()
    for name in _PLUGIN_FILES:
        (target / name).parent.mkdir(exist_ok=True)
        shutil.copyfile(INSIDE_DIR / name, target / name)
    subprocess.run(
        [str(python), "-m", "py_compile", *(str(target / name) for name in _PLUGIN_FILES)],
        capture_output=True,
        timeout=60,
        check=False,  # only an optimisation: without the .pyc the plugin compiles per run
    )
    read_only_file = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
    read_only_dir = read_only_file | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    for path in sorted(target.rglob("*"), reverse=True):
        path.chmod(read_only_dir if path.is_dir() else read_only_file)
    target.chmod(read_only_dir)
    return target


def _seal(directory: Path) -> dict[str, tuple[int, ...]]:
    """Identity of every file below `directory`; any write changes it (ctime can't be reset)."""
    sealed: dict[str, tuple[int, ...]] = {}
    for path in sorted(directory.rglob("*")):
        st = path.lstat()
        sealed[str(path.relative_to(directory))] = (
            st.st_ino,
            st.st_size,
            st.st_mode,
            st.st_mtime_ns,
            st.st_ctime_ns,
        )
    return sealed


def _results_file(directory: Path) -> int:
    """An append-only file no path leads to: opened here, unlinked, handed to the run by number.

    Appends are atomic, so processes forked inside the run may share it.
    """
    path = directory / f"results-{secrets.token_hex(8)}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
    path.unlink()
    return fd


def _read_fd(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while offset <= limit:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


class Sandbox:
    """A private copy of `repo` where pytest runs under `python`, as isolated as the host allows.

    The copy is made once and reused by every `run`; each run is undone afterwards.
    """

    def __init__(self, repo: Path, python: Path, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.repo = Path(repo).resolve()
        # Resolve the directory, not the file: a venv's bin/python must stay the venv's link,
        # but no symlinked directory may remain (bwrap re-creates paths without them).
        given = Path(python).absolute()
        self.python = Path(os.path.realpath(given.parent)) / given.name
        self._info = inspect_python(self.python)
        self.level: IsolationLevel = choose_level(self.settings.isolation)
        if self.level == IsolationLevel.PROCESS:
            log.warning(
                "SANDBOX NOT ISOLATED: tests run as a plain process with your permissions, "
                "your files and your network (install bubblewrap, or allow user namespaces)",
                isolation=self.level.value,
            )
        _note_pass_env(self.settings.pass_env)
        self._root, self._owner = _claim_root()
        self._lock = threading.Lock()  # one workspace: runs take turns
        self._runs = 0
        self._closed = False
        try:
            self._plugin_dir = _copy_plugin(self._root / "plugin", self.python)
            self._plugin_seal = _seal(self._plugin_dir)
            self._workspace = Workspace(self.repo, self._root / "ws")
        except BaseException:
            remove_tree(self._root)
            os.close(self._owner)
            raise
        # the interpreter's own directory too: it may be a wrapper script outside its prefix
        roots = [str(self.python.parent), *self._info.prefixes()]
        self._python_roots, self._repo_entries = python_roots_for(
            self.repo, roots, self._info.sys_path
        )
        log.info(
            "sandbox ready",
            isolation=self.level.value,
            workspace=str(self._workspace.path),
            python=str(self.python),
        )

    @property
    def workspace(self) -> Path:
        return self._workspace.path

    # ------------------------------------------------------------------ running

    @property
    def python_version(self) -> tuple[int, int]:
        """The target interpreter's (major, minor)."""
        major, minor = self._info.version.split(".")[:2]
        return int(major), int(minor)

    def run(
        self,
        files: dict[str, str] | None = None,
        *,
        select: list[str] | None = None,
        reruns: int = 0,
        shuffle_seed: int | None = None,
        trace: list[str] | None = None,
        timeout: float | None = None,
        collect_only: bool = False,
        remove: list[str] | None = None,
    ) -> RunResult:
        """Write `files` into the copy, run pytest on `select` (default: those files), undo.

        `collect_only` stops after collection: `collected` and `collect_errors` say what
        pytest found, and no test runs. `remove` names repo files taken out of the copy for
        this run only (e.g. files a change added, for a run on its base revision).
        """
        if self._closed:
            raise SandboxError("the sandbox is closed")
        files = files or {}
        with self._lock:
            self._runs += 1
            run_dir = self._root / "runs" / str(self._runs)
            (run_dir / "home").mkdir(parents=True)
            (run_dir / "tmp").mkdir()
            self._check_plugin()
            new_files = sorted(rel for rel in files if not (self.workspace / rel).exists())
            written = self._workspace.write_files(files)
            written.paths.extend(self._workspace.remove_files(remove or []))
            try:
                return self._run(
                    run_dir,
                    written,
                    files,
                    new_files,
                    select,
                    reruns,
                    shuffle_seed,
                    trace,
                    timeout,
                    collect_only,
                )
            except BaseException:
                self._workspace.restore(written)
                raise
            finally:
                remove_tree(run_dir)

    def _run(
        self,
        run_dir: Path,
        written: Written,
        files: dict[str, str],
        new_files: list[str],
        select: list[str] | None,
        reruns: int,
        shuffle_seed: int | None,
        trace: list[str] | None,
        timeout: float | None,
        collect_only: bool = False,
    ) -> RunResult:
        hang = run_dir / "hang.txt"
        wall = timeout if timeout is not None else self.settings.run_timeout
        launch = Launch(
            level=self.level,
            python=self.python,
            python_roots=self._python_roots,
            repo_entries=self._repo_entries,
            source=self.repo,
            workspace=self.workspace,
            plugin_dir=self._plugin_dir,
            run_dir=run_dir,
            scratch_mb=2 * self.settings.file_size_mb,
            boot_config=run_dir / "boot.json",
            pytest_args=self._pytest_args(
                hang, files, new_files, select, reruns, shuffle_seed, trace, collect_only
            ),
            env=self._children_env(run_dir, trace)
            | sandbox_env(
                os.environ,
                home=run_dir / "home",
                python_bin=self.python.parent,
                # bwrap gives the run a private /tmp; the other levels get a private TMPDIR
                tmpdir=None if self.level == IsolationLevel.BWRAP else run_dir / "tmp",
                pass_env=self.settings.pass_env,
            ),
        )
        # The key that signs this run's results reaches the bootstrap through a pipe it drains
        # before any test code loads; the results go to a file no path leads to.
        key = secrets.token_bytes(KEY_BYTES)
        results_fd = _results_file(run_dir)
        key_read, key_write = os.pipe()
        try:
            os.write(key_write, key)
            os.close(key_write)
            channel = {"results_fd": results_fd, "key_fd": key_read}
            launch.boot_config.write_text(
                json.dumps(boot_config(launch, self._limits(), channel)), encoding="utf-8"
            )
            finished = run_command(
                build_command(launch), timeout=wall, pass_fds=(results_fd, key_read)
            )
            data = _read_fd(results_fd, MAX_RESULTS_BYTES)
        finally:
            for fd in (results_fd, key_read):
                os.close(fd)
        # Undo the run before reporting it, so changed_paths is part of the result.
        changed = self._workspace.restore(written)
        tampered = self._after_run(clean=not files and not written.paths)
        result = build_result(
            read_events(data, key),
            isolation=self.level,
            returncode=finished.returncode,
            timed_out=finished.timed_out,
            run_timeout=wall,
            duration=finished.duration,
            stdout_tail=finished.stdout_tail,
            stderr_tail=finished.stderr_tail,
            hang_report=_read_tail(hang),
            changed_paths=changed,
            tampered=tampered,
        )
        log.info(
            "sandbox run",
            isolation=self.level.value,
            tests=len(result.outcomes),
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            seconds=round(result.duration, 2),
        )
        return result

    def _check_plugin(self) -> None:
        """Our plugin copy is read-only inside every sandbox but the process level's."""
        if _seal(self._plugin_dir) != self._plugin_seal:
            log.warning("the sandbox's plugin copy was changed; copying it again")
            remove_tree(self._plugin_dir)
            self._plugin_dir = _copy_plugin(self._plugin_dir, self.python)
            self._plugin_seal = _seal(self._plugin_dir)

    def _after_run(self, *, clean: bool) -> list[str]:
        """Reset what outlives a restore, and say what makes the run's results untrusted.

        Bytecode caches: after a run of only the repository's own code they are trusted; after
        a run with files of ours (proposals, mutants) every cache it wrote is thrown away, so
        no run can leave compiled code for a later one to load instead of the source.
        """
        tampered = []
        if clean:
            self._workspace.trust_bytecode()
        elif reset := self._workspace.reset_bytecode():
            log.info("bytecode written by the run discarded", files=len(reset))
        if _seal(self._plugin_dir) != self._plugin_seal:
            tampered.append("the run rewrote the sandbox's own plugin")
            self._check_plugin()
        return tampered

    def _pytest_args(
        self,
        hang: Path,
        files: dict[str, str],
        new_files: list[str],
        select: list[str] | None,
        reruns: int,
        shuffle_seed: int | None,
        trace: list[str] | None,
        collect_only: bool = False,
    ) -> list[str]:
        args = [
            *("-p", "no:cacheprovider", "-p", "no:randomly"),
            "--continue-on-collection-errors",
            f"--rootdir={self.workspace}",
            "--tb=short",
            f"--itarch-hang-file={hang}",
            f"--itarch-test-timeout={self.settings.test_timeout}",
        ]
        if self.level in (IsolationLevel.BWRAP, IsolationLevel.UNSHARE):
            args.append("--itarch-own-netns")
        args += [f"--itarch-new-file={rel}" for rel in new_files]
        if reruns:
            args.append(f"--itarch-reruns={int(reruns)}")
        if shuffle_seed is not None:
            args.append(f"--itarch-seed={int(shuffle_seed)}")
        for path in trace or []:
            args.append(f"--itarch-trace={path}")
        if collect_only:
            args.append("--collect-only")
        targets = select if select is not None else sorted(files)
        for target in targets:
            if target.startswith("-"):
                raise SandboxError(f"select entry {target!r} is not a path or node id")
        return [*args, "--", *targets] if targets else args

    def _children_env(self, run_dir: Path, trace: list[str] | None) -> dict[str, str]:
        """What lets Python processes a test starts trace the same files (inside/children)."""
        if not trace:
            return {}
        (run_dir / "children").mkdir()
        targets = {}
        for rel in trace:
            # the copy, and the user's path where the sandbox shows the copy's files
            for root in (self.workspace, self.repo):
                targets[str(root / rel)] = rel
                targets[os.path.realpath(root / rel)] = rel
        env = {
            "PYTHONPATH": str(self._plugin_dir / "children"),
            "ITARCH_CHILDREN_DIR": str(run_dir / "children"),
            "ITARCH_CHILD_TRACE": json.dumps(targets),
        }
        if os.environ.get("ITARCH_LINE_TRACER"):  # which line tracer (inside/itarch_lines.py)
            env["ITARCH_LINE_TRACER"] = os.environ["ITARCH_LINE_TRACER"]
        return env

    def _limits(self) -> dict[str, int]:
        s = self.settings
        mb = 1024 * 1024
        limits = {
            "RLIMIT_AS": s.memory_mb * mb,
            "RLIMIT_CPU": s.cpu_seconds,
            "RLIMIT_FSIZE": s.file_size_mb * mb,
            "RLIMIT_NPROC": s.max_processes,
            "RLIMIT_CORE": 0,
        }
        if self.level == IsolationLevel.PROCESS:
            # Outside a user namespace of its own, NPROC counts every process of the user,
            # not just the run's: a busy desktop would make every fork in the tests fail.
            del limits["RLIMIT_NPROC"]
        return {k: v for k, v in limits.items() if hasattr(resource, k)}

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            remove_tree(self._root)
            os.close(self._owner)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            remove_tree(self._root)


_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


def _note_pass_env(names: list[str]) -> None:
    """Say what pass_env lets through: a secret is the user's choice, but never a silent one."""
    if not names:
        return
    unset = [name for name in names if name not in os.environ]
    if unset:
        log.warning("pass_env names variables that are not set here", names=unset)
    secret = [
        name
        for name in names
        if name in os.environ and any(w in name.upper() for w in _SECRET_WORDS)
    ]
    if secret:
        log.warning(
            "pass_env gives the tests what looks like a secret; any test can read it",
            names=secret,
        )
    log.info("passing variables to the tests", names=[n for n in names if n in os.environ])


_ROOT_PREFIX = "itarch-sandbox-"
_OWNER = ".owner"


def _claim_root() -> tuple[Path, int]:
    """A fresh directory for one sandbox, locked while its process lives.

    The lock is the kernel's, so it is released even on `kill -9`: copies left by killed runs are
    swept here, and a live sandbox's copy is never touched. The lock file is created under a
    name no sweep opens, locked, and only then renamed to `.owner`: a sweep that can open a
    directory's `.owner` always finds it locked while its sandbox lives (creating `.owner` and
    locking it in two steps let a concurrent sweep lock and remove a copy just being claimed).
    """
    _sweep_stale_roots()
    root = Path(tempfile.mkdtemp(prefix=_ROOT_PREFIX)).resolve()
    try:
        claiming = root / f"{_OWNER}-{secrets.token_hex(8)}"
        owner = os.open(claiming, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except BaseException:
        remove_tree(root)
        raise
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else knows the name yet
        os.rename(claiming, root / _OWNER)
    except BaseException:
        remove_tree(root)
        os.close(owner)
        raise
    return root, owner


def _sweep_stale_roots() -> None:
    """Remove the copies whose lock no process holds (their sandbox was killed)."""
    for old in Path(tempfile.gettempdir()).glob(f"{_ROOT_PREFIX}*"):
        try:
            # only ever a locked file gets this name: no lock file yet means a claim in progress
            owner = os.open(old / _OWNER, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue  # not claimed yet (being created right now), already removed, or not ours
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its process is alive
        else:
            log.info("removing a sandbox copy left by a killed run", path=str(old))
            remove_tree(old)
        finally:
            os.close(owner)


def _read_tail(path: Path, limit: int = 16_000) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
