"""The hostile corpus: what each case proposes, what it must be judged, and what the `process`
level (which isolates nothing) is known to let through.

A case is one proposal (or two in a row, on one sandbox) of files from `corpus/`. Each test in it
attacks and then asserts that the attack worked, so a contained attack shows up as a test that
fails, or as the rejection the brief names for it (network, side effect, timeout, ...).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.schema import IsolationLevel

CORPUS = Path(__file__).with_name("corpus")

# What a test (or a whole file) may end up as: a rejection reason, "accepted" or "bug".
Outcome = str
ANY: frozenset[Outcome] = frozenset()  # no expectation: an innocent neighbour, a helper proposal

ProcessLevel = Literal["contained", "escapes", "may_escape", "skip"]
NO_CLAIM: frozenset[str] = frozenset()  # the attack's effect is judged from outside only


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    stages: tuple[dict[str, str], ...]  # proposals in order: target path -> corpus file
    expect: dict[str, frozenset[Outcome]]  # test name or file path (or "*") -> allowed outcomes
    process: ProcessLevel = "contained"  # what the unisolated level does with it
    why_process: str = ""  # why the process level cannot stop it
    # Tests that pass only if their attack worked (reading the key, faking a pass, ...): one of
    # them accepted is an escape. "*" is every test of the case.
    claims: frozenset[str] = frozenset({"*"})

    def expected(self, key: str) -> frozenset[Outcome]:
        return self.expect.get(key, self.expect.get("*", ANY))

    def claims_escape(self, key: str) -> bool:
        return key in self.claims or "*" in self.claims

    def runs_at(self, level: IsolationLevel) -> bool:
        return not (level == IsolationLevel.PROCESS and self.process == "skip")


def _one(name: str) -> tuple[dict[str, str], ...]:
    return ({f"tests/test_hostile_{name}.py": f"{name}.py"},)


def _only(*outcomes: str) -> frozenset[Outcome]:
    return frozenset(outcomes)


NOT_ISOLATED = "the process level shares the user's files, processes and network"

CASES: list[Case] = [
    Case(
        "secrets_env",
        "API key from the environment (os.environ, /proc/self/environ)",
        _one("secrets_env"),
        {"*": _only("fails")},
    ),
    Case(
        "secrets_proc",
        "API key from /proc/<parent>/environ and every /proc/*/environ",
        _one("secrets_proc"),
        {"*": _only("fails")},
        process="may_escape",
        why_process=(
            "no pid namespace: the parent's environment is readable, unless (as when itarch "
            "runs as root) the parent holds capabilities the test has dropped"
        ),
    ),
    Case(
        "secrets_files",
        "API key from ~/.anthropic, ~/.config, ~/.env and .env files around the repo",
        _one("secrets_files"),
        {"*": _only("fails")},
        process="escapes",
        why_process="no mount namespace: the home directory and the repo's parent are readable",
    ),
    Case(
        "network_connect",
        "connect beyond loopback (socket, _socket, libc connect)",
        _one("network_connect"),
        {"*": _only("network")},
        process="escapes",
        why_process="no network namespace: libc's connect() goes around the plugin's guard",
    ),
    Case(
        "network_dns",
        "resolve a hostname (socket, _socket, libc getaddrinfo)",
        _one("network_dns"),
        {"*": _only("network")},
        # Not judged at the process level: there the query goes wherever the host's resolver
        # sends it (its own resolv.conf, caches, timeouts), so whether the harness's listener sees
        # it varies from run to run. The level is documented as not isolated either way.
        process="skip",
        why_process="no network namespace: libc's resolver goes around the plugin's guard",
    ),
    Case(
        "network_view",
        "interfaces and routes the test can see (no connection attempted)",
        _one("network_view"),
        {"*": _only("fails")},
        process="escapes",
        why_process="no network namespace: the machine's interfaces and routes are visible",
    ),
    Case(
        "unix_sockets",
        "talk to local daemons through UNIX sockets (/run, ~, /tmp, /var)",
        _one("unix_sockets"),
        {"*": _only("fails")},
        process="escapes",
        why_process="no mount namespace: every socket in the filesystem is reachable",
    ),
    Case(
        "sysv_ipc",
        "read other programs' System V shared memory",
        _one("sysv_ipc"),
        {"*": _only("fails")},
        process="escapes",
        why_process="no IPC namespace: every segment of the user is readable",
    ),
    Case(
        "write_tree",
        "write source files: the copy, and the user's tree by absolute path",
        _one("write_tree"),
        {"*": _only("side_effect")},
        process="escapes",
        why_process="no mount namespace: the user's tree is writable by absolute path",
        claims=NO_CLAIM,
    ),
    Case(
        "write_outside",
        "write into $HOME, the shared /tmp and the rest of the filesystem",
        _one("write_outside"),
        {"*": _only("fails")},
        process="escapes",
        why_process=NOT_ISOLATED,
    ),
    Case(
        "delete_files",
        "delete files: the copy, the user's tree, $HOME, the repo's parent",
        _one("delete_files"),
        {"*": _only("side_effect")},
        process="escapes",
        why_process=NOT_ISOLATED,
        claims=NO_CLAIM,
    ),
    Case(
        "git_state",
        "change git state: commit, branch, hook, config; git init in the copy",
        _one("git_state"),
        {
            "test_change_the_users_git_state": _only("fails", "error"),
            "test_a_repository_of_its_own_in_the_copy": _only("side_effect"),
        },
        process="escapes",
        why_process="no mount namespace: the user's .git is writable",
        claims=frozenset({"test_change_the_users_git_state"}),
    ),
    Case(
        "undo_mounts",
        "unmount the masks, remount / read-write, retry from a new user namespace",
        _one("undo_mounts"),
        {"*": _only("fails")},
        process="escapes",
        why_process="nothing is mounted over the user's files to begin with",
    ),
    Case(
        "raw_devices",
        "read the disks and kernel devices (/dev/vda, /dev/kmsg, ...) directly",
        _one("raw_devices"),
        {"*": _only("fails")},
        process="escapes",
        why_process="the machine's /dev: disks are readable by their owner",
    ),
    Case(
        "fork_bomb",
        "fork bomb (bounded at 500 processes)",
        _one("fork_bomb"),
        # processes left behind; or, when 500 forks outlast the per-test limit, a timeout
        {"*": _only("side_effect", "timeout")},
        claims=NO_CLAIM,
    ),
    Case(
        "memory_hog",
        "allocate gigabytes (bounded at 8 GB)",
        _one("memory_hog"),
        {"*": _only("fails")},
    ),
    Case(
        "tmpfs_fill",
        "exhaust memory through tmpfs: /tmp, /dev/shm, hidden dirs (bounded at 2 GB)",
        _one("tmpfs_fill"),
        {"*": _only("fails", "timeout")},
        process="may_escape",
        why_process="the machine's /dev/shm lives in memory, bounded only by the per-test clock",
    ),
    Case(
        "disk_fill",
        "fill the disk (bounded at 2 GB)",
        _one("disk_fill"),
        {"*": _only("side_effect")},
        claims=NO_CLAIM,
    ),
    Case(
        "print_flood",
        "print a gigabyte, around pytest's capture and through it (bounded at 1 GB)",
        _one("print_flood"),
        {"*": _only("error", "timeout")},
        claims=NO_CLAIM,
    ),
    Case(
        "setsid_daemon",
        "setsid daemon that outlives the run, respawned from a thread",
        _one("setsid_daemon"),
        {"*": _only("side_effect")},
        process="may_escape",
        why_process="a daemon born after the leftover sweep re-parents outside the run",
        claims=NO_CLAIM,
    ),
    Case(
        "kill_parent",
        "SIGKILL the parent and every visible ancestor",
        _one("kill_parent"),
        {"*": _only("fails", "error")},
        process="escapes",
        why_process="no pid namespace: the parent is itarch itself",
    ),
    Case(
        "kill_all",
        "kill(-1): every process it may signal",
        _one("kill_all"),
        {"*": _only("fails", "error")},
        process="skip",
        why_process="not tried: kill(-1) without a pid namespace would hit the user's processes",
    ),
    Case(
        "exit_midrun",
        "os._exit(0) in the middle of the run",
        _one("exit_midrun"),
        {"test_exit_with_success": _only("error"), "*": ANY},
        claims=NO_CLAIM,
    ),
    Case(
        "sleep_forever",
        "sleep forever, plainly and dodging SIGALRM and the watchdog",
        _one("sleep_forever"),
        {"*": _only("timeout")},
        claims=NO_CLAIM,
    ),
    Case(
        "forge_results",
        "write forged result lines into every file and pipe, then exit 0",
        _one("forge_results"),
        {"*": _only("error")},
    ),
    Case(
        "patch_plugin",
        "monkeypatch the result plugin through sys.modules",
        _one("patch_plugin"),
        {"*": _only("error")},
    ),
    Case(
        "fake_conftest",
        "a proposed conftest that turns failures into passes",
        (
            {
                "tests/hostile_conftest/conftest.py": "fake_conftest__conftest.py",
                "tests/hostile_conftest/test_victim.py": "fake_conftest__test_victim.py",
            },
        ),
        {"tests/hostile_conftest/conftest.py": _only("no_tests"), "*": _only("error", "fails")},
    ),
    Case(
        "poison_cache",
        "rewrite the plugin, conftest.py and bytecode caches for the next proposal",
        (
            {"tests/test_hostile_planter.py": "poison_cache__planter.py"},
            {"tests/test_hostile_victim.py": "poison_cache__victim.py"},
        ),
        {"test_plant_poison": ANY, "*": _only("fails", "error")},
        process="may_escape",
        why_process="no mount namespace: the interpreter's own files are writable",
        claims=frozenset({"test_total_is_wrong", "test_raises"}),
    ),
]

BY_NAME = {case.name: case for case in CASES}


def source(corpus_file: str, values: dict[str, str]) -> str:
    """A corpus file with its @@PLACEHOLDERS@@ filled in."""
    text = (CORPUS / corpus_file).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    if "@@" in text:
        missing = text.split("@@")[1]
        raise ValueError(f"{corpus_file}: no value for @@{missing}@@")
    return text


def victim_hash() -> str:
    """The source hash pytest keys its bytecode cache on, for the poison case's victim file."""
    data = (CORPUS / "poison_cache__victim.py").read_bytes()
    return importlib.util.source_hash(data).hex()
