"""The isolation ladder: which walls the machine lets us build, and the command that builds them.

    bwrap    bubblewrap builds the mount plan below; own net/pid/ipc/uts namespaces (loopback
             only), every capability dropped, cleared environment
    unshare  own user/net/ipc/uts/pid/mount namespaces (loopback only); the bootstrap builds
             the same mount plan from inside, then drops every capability
    process  a plain child process in its own session: NOT isolated (said loudly)

The mount plan (`mount_plan`): the whole filesystem read-only; empty private directories over
/tmp, /run, /dev/shm, the user's home, the repository and its parent directory, and every
top-level directory that is not part of the operating system (/home, /root, /srv, /var, /mnt,
...); then the interpreter's directories, the workspace copy (writable), the run's directory
(writable) and our plugin shown again on top.

`container` is part of the vocabulary but no engine is wired up, so it is never available.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.log import get_logger
from agent.sandbox.errors import SandboxError
from agent.schema import IsolationLevel

log = get_logger(__name__)

INSIDE_DIR = Path(__file__).parent / "inside"  # the code that runs in the sandbox
BOOT_SCRIPT = "itarch_boot.py"
_PROBE_TIMEOUT = 30.0

# Variables a test may see, copied from our environment when present. Everything else is
# dropped: an allowlist, so no new *_TOKEN or cloud credential can slip through.
_ENV_ALLOWLIST = ("PATH", "LANG", "TZ", "TERM", "PYTHONHASHSEED")
_ENV_PREFIX_ALLOWLIST = ("LC_",)

# Top-level directories of the operating system, shown read-only. Every other top-level directory
# (/home, /root, /srv, /var, /mnt, /media, /work, ...) holds somebody's data and is hidden.
_SYSTEM_DIRS = frozenset(
    {"bin", "dev", "etc", "gnu", "lib", "lib32", "lib64", "libx32", "nix", "opt", "proc"}
    | {"sbin", "snap", "sys", "usr"}
)
# Always hidden behind an empty private directory: shared scratch space and runtime sockets.
_ALWAYS_MASKED = ("/tmp", "/run", "/dev/shm")
# Of those, the scratch space stays writable, but bounded: tmpfs lives in memory.
_SCRATCH = ("/tmp", "/dev/shm")

_UNSHARE = [
    "unshare",
    "--user",
    "--map-root-user",
    "--net",
    "--ipc",
    "--uts",
    "--pid",
    "--fork",
    "--mount-proc",
    "--kill-child",
]


def sandbox_env(
    base: dict[str, str] | os._Environ[str],
    *,
    home: Path,
    python_bin: Path,
    tmpdir: Path | None,
    pass_env: Sequence[str] = (),
) -> dict[str, str]:
    """The environment a test sees: the allowlist, an empty HOME, the target's bin dir on PATH.

    `pass_env` names variables the user asked to pass as well (`[tool.itarch.sandbox]
    pass_env`, validated by the settings); those that are set here are copied as they are.
    """
    passed = set(pass_env)
    env = {
        key: value
        for key, value in base.items()
        if key in _ENV_ALLOWLIST or key.startswith(_ENV_PREFIX_ALLOWLIST) or key in passed
    }
    path = env.get("PATH") or "/usr/local/bin:/usr/bin:/bin"
    env["PATH"] = f"{python_bin}{os.pathsep}{path}"
    env["HOME"] = str(home)
    env.setdefault("LANG", "C.UTF-8")
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


# ---------------------------------------------------------------- probing


def _run_probe(argv: list[str], env: dict[str, str]) -> tuple[dict[str, object] | None, str]:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT, env=env, cwd="/"
        )
    except FileNotFoundError:
        return None, f"{argv[0]} is not installed"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{argv[0]} did not run: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return None, f"{argv[0]} failed: {last}"
    try:
        report = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None, f"{argv[0]} gave no probe report"
    return report, ""


def _probe_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


@functools.cache
def _bwrap_problem() -> str | None:
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (apt install bubblewrap)"
    boot = str(INSIDE_DIR / BOOT_SCRIPT)
    # itarch itself may live under /tmp (a checkout there, its venv): keep it visible.
    shown = dict.fromkeys(os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, INSIDE_DIR))
    argv = [
        "bwrap",
        *("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"),
        *(arg for path in shown for arg in ("--ro-bind", path, path)),
        *("--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL"),
        *("--die-with-parent", "--new-session", "--clearenv", "--setenv", "LANG", "C.UTF-8"),
        "--",
        sys.executable,
        boot,
        "--probe",
    ]
    report, problem = _run_probe(argv, _probe_env())
    if report is None:
        return problem
    if report.get("interfaces") != ["lo"]:
        return f"bwrap's network namespace shows {report.get('interfaces')}, not only lo"
    if report.get("capabilities"):
        return "bwrap left capabilities to the sandboxed process"
    return None


@functools.cache
def _unshare_problem() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed (util-linux)"
    with tempfile.TemporaryDirectory(prefix="itarch-probe-") as scratch:
        argv = [*_UNSHARE, sys.executable, str(INSIDE_DIR / BOOT_SCRIPT), "--probe", scratch]
        report, problem = _run_probe(argv, _probe_env())
    if report is None:
        return problem
    if report.get("error"):
        return f"unshare: {report['error']}"
    if report.get("interfaces") != ["lo"] or not report.get("loopback"):
        return f"unshare's network namespace shows {report.get('interfaces')}, not only lo"
    if not report.get("read_only"):
        return "unshare could not make the filesystem read-only"
    if not report.get("masked") or not report.get("writable"):
        return "unshare could not hide a directory and show a writable one on top"
    if report.get("capabilities"):
        return "unshare could not drop the sandbox's capabilities"
    return None


@functools.cache
def probe_isolation() -> tuple[IsolationLevel, list[str]]:
    """The strongest isolation that works here (probed once per process), and notes on the rest."""
    notes = ["container: no container engine is supported yet"]
    bwrap = _bwrap_problem()
    if bwrap is None:
        return IsolationLevel.BWRAP, notes
    notes.append(f"bwrap: {bwrap}")
    unshare = _unshare_problem()
    if unshare is None:
        return IsolationLevel.UNSHARE, notes
    notes.append(f"unshare: {unshare}")
    notes.append("process: tests run as a plain process, NOT isolated")
    return IsolationLevel.PROCESS, notes


def available_levels() -> list[IsolationLevel]:
    """Every level that works here, strongest first (process always works)."""
    levels = []
    if _bwrap_problem() is None:
        levels.append(IsolationLevel.BWRAP)
    if _unshare_problem() is None:
        levels.append(IsolationLevel.UNSHARE)
    levels.append(IsolationLevel.PROCESS)
    return levels


def choose_level(requested: str) -> IsolationLevel:
    """Resolve the `isolation` setting; raise SandboxError when the asked-for level can't be had."""
    wanted = requested.strip().lower()
    if wanted == "auto":
        return probe_isolation()[0]
    try:
        level = IsolationLevel(wanted)
    except ValueError:
        raise SandboxError(
            f"unknown isolation {requested!r}: use auto, bwrap, unshare or process"
        ) from None
    problem: str | None = None
    if level == IsolationLevel.CONTAINER:
        problem = "no container engine is supported yet"
    elif level == IsolationLevel.BWRAP:
        problem = _bwrap_problem()
    elif level == IsolationLevel.UNSHARE:
        problem = _unshare_problem()
    if problem:
        raise SandboxError(f"isolation {wanted!r} is not available here: {problem}")
    return level


# ---------------------------------------------------------------- launching


@dataclass
class Launch:
    """Everything needed to start one sandboxed pytest run."""

    level: IsolationLevel
    python: Path
    python_roots: list[str]  # directories the interpreter needs (prefixes, sys.path entries)
    source: Path  # the user's repository
    workspace: Path
    plugin_dir: Path  # our read-only copy
    run_dir: Path  # results, home, tmp of this run
    boot_config: Path
    pytest_args: list[str]
    repo_entries: list[str] = field(default_factory=list)  # sys.path dirs inside the repo
    env: dict[str, str] = field(default_factory=dict)
    scratch_mb: int = 1024  # size of the private /tmp and /dev/shm (they live in memory)


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True)
class Bind:
    source: str
    target: str
    writable: bool = False


@dataclass
class MountPlan:
    """What the sandbox sees: the system read-only, `masks` empty, `binds` shown on top.

    Masks are read-only empty directories, except the scratch ones (`scratch`: path -> bytes),
    which are writable up to their size.
    """

    masks: list[str]
    binds: list[Bind]
    scratch: dict[str, int] = field(default_factory=dict)


def _homes() -> list[str]:
    homes = [os.path.expanduser("~")]
    with contextlib.suppress(KeyError):  # a uid without a passwd entry
        homes.append(pwd.getpwuid(os.getuid()).pw_dir)
    return [os.path.realpath(h) for h in homes if h]


def _masks(source: Path) -> list[str]:
    """Directories hidden behind an empty private directory, outermost first."""
    wanted = [*_ALWAYS_MASKED, *_homes(), str(source), str(source.parent)]
    try:
        top = sorted(os.scandir("/"), key=lambda entry: entry.name)
    except OSError:
        top = []
    for entry in top:
        if entry.name not in _SYSTEM_DIRS and entry.is_dir(follow_symlinks=False):
            wanted.append(entry.path)
    masks: list[str] = []
    for path in sorted(dict.fromkeys(wanted), key=len):
        if path in ("/", "") or not os.path.isdir(path) or os.path.islink(path):
            continue
        if not any(_under(path, m) for m in masks):
            masks.append(path)
    return masks


def mount_plan(launch: Launch) -> MountPlan:
    """The filesystem a sandboxed run sees, for bwrap's arguments and the bootstrap alike."""
    masks = _masks(launch.source)
    binds: list[Bind] = []
    source = str(launch.source)
    for rel in launch.repo_entries:
        # Editable installs put repo directories on sys.path, and site.py skips directories
        # that don't exist: show the copy's version there, read-only; the bootstrap then
        # points sys.path at the writable copy itself.
        copy = launch.workspace / rel
        if copy.is_dir() and any(_under(source, m) for m in masks):
            binds.append(Bind(str(copy), str(launch.source / rel)))
    # The interpreter may live in a hidden directory (~/.pyenv, the repo's .venv, /home): show it.
    # Never a directory holding the home or the repository itself (say, $HOME on PYTHONPATH).
    secret = [*_homes(), str(launch.source.parent)]
    shown: list[str] = []
    for root in sorted(launch.python_roots, key=len):
        if not os.path.isdir(root) or any(_under(root, s) for s in shown):
            continue
        if any(_under(place, root) for place in secret):
            log.warning("not showing a sys.path directory that holds private files", path=root)
            continue
        if any(_under(root, m) for m in masks):
            binds.append(Bind(root, root))
            shown.append(root)
    binds.append(Bind(str(launch.workspace), str(launch.workspace), writable=True))
    binds.append(Bind(str(launch.run_dir), str(launch.run_dir), writable=True))
    binds.append(Bind(str(launch.plugin_dir), str(launch.plugin_dir)))
    size = launch.scratch_mb * 1024 * 1024
    scratch = {path: size for path in _SCRATCH if path in masks}
    return MountPlan(masks=masks, binds=binds, scratch=scratch)


def _bwrap_argv(launch: Launch) -> list[str]:
    plan = mount_plan(launch)
    argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for mask in plan.masks:
        if mask in plan.scratch:
            argv += ["--size", str(plan.scratch[mask]), "--perms", "1777", "--tmpfs", mask]
        else:  # not even uid 0 writes here once its capabilities are gone
            argv += ["--perms", "0555", "--tmpfs", mask]
    for bind in plan.binds:
        argv += ["--bind" if bind.writable else "--ro-bind", bind.source, bind.target]
    argv += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    # Run as root, bwrap would otherwise leave the sandbox every capability (mount, ptrace...).
    argv += ["--cap-drop", "ALL"]
    # The environment reaches the sandbox as bwrap's own (exactly `launch.env`, see
    # build_command), never on its command line, where every user of the machine could read a
    # variable passed with pass_env.
    argv += ["--hostname", "itarch-sandbox", "--die-with-parent", "--new-session"]
    argv += ["--chdir", str(launch.workspace), "--"]
    return argv


def python_roots_for(
    source: Path, prefixes: list[str], sys_path: list[str]
) -> tuple[list[str], list[str]]:
    """Directories the interpreter reads: (roots to show read-only, repo-relative entries).

    Roots are its prefixes and the sys.path entries outside the repo. Entries inside the
    user's repo (editable installs) come back separately, relative to the repo: the copy's
    version of them is shown instead, and the original stays hidden.
    """
    roots = list(prefixes)
    repo_entries: list[str] = []
    src = str(source)
    for entry in sys_path:
        real = os.path.realpath(entry)
        if _under(real, src) and not any(_under(real, p) for p in prefixes):
            if real != src:
                repo_entries.append(os.path.relpath(real, src))
            continue
        roots.append(real)
    return list(dict.fromkeys(roots)), list(dict.fromkeys(repo_entries))


def build_command(launch: Launch) -> Command:
    """The argv/env/cwd that start the bootstrap at `launch.level`."""
    boot = [str(launch.python), str(launch.plugin_dir / BOOT_SCRIPT), str(launch.boot_config)]
    tail = [*boot, "--", *launch.pytest_args]
    if launch.level == IsolationLevel.BWRAP:
        return Command([*_bwrap_argv(launch), *tail], launch.env, launch.workspace)
    if launch.level == IsolationLevel.UNSHARE:
        return Command([*_UNSHARE, *tail], launch.env, launch.workspace)
    if launch.level == IsolationLevel.PROCESS:
        return Command(tail, launch.env, launch.workspace)
    raise SandboxError(f"isolation {launch.level.value!r} cannot launch anything here")


def boot_config(
    launch: Launch, limits: dict[str, int], channel: dict[str, int]
) -> dict[str, object]:
    """What the bootstrap does inside: loopback, the mount plan, privileges, limits, sys.path.

    `channel` names the inherited descriptors of the results file and of the pipe holding the
    run's signing key.
    """
    config: dict[str, object] = {
        "workspace": str(launch.workspace),
        "source": str(launch.source),
        "channel": channel,
        "limits": limits,
        "parent_pid_ns": _own_pid_ns(),
        "drop_privileges": True,
    }
    if launch.level == IsolationLevel.UNSHARE:
        plan = mount_plan(launch)
        config["loopback_up"] = True
        config["mounts"] = {
            "dev": True,
            "masks": [[m, plan.scratch.get(m, 0)] for m in plan.masks],
            "binds": [[b.source, b.target, b.writable] for b in plan.binds],
        }
    return config


def _own_pid_ns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
