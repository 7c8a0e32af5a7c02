"""The walls, proven from inside: what a sandboxed test can see, write and reach.

Every connect attempt to a non-loopback address happens inside a network namespace these tests
create themselves (`unshare -rn`), so nothing can leave the machine even if the sandbox failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

from agent.sandbox import Sandbox, SandboxError, probe_isolation
from agent.schema import IsolationLevel, RunResult

from .helpers import ALL_LEVELS, ISOLATED, PYTHON, settings, tree_fingerprint, unshare_rn_available

pytestmark = pytest.mark.skipif(not ISOLATED, reason="neither bwrap nor unshare works here")

SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-test-secret",
    "GITHUB_TOKEN": "ghp_test_secret",
    "AWS_SECRET_ACCESS_KEY": "aws-test-secret",
    "ITARCH_MODEL": "secret-model",
    "MY_SERVICE_PASSWORD": "hunter2",
}

SEES_NO_SECRETS = """
import os
from pathlib import Path

SECRET_VALUES = {values!r}
REAL_HOME = {home!r}


def test_environment_has_no_secrets():
    assert not set(SECRET_VALUES) & set(os.environ.values())
    assert not [k for k in os.environ if k.startswith(("ANTHROPIC", "GITHUB", "AWS", "ITARCH"))]


def test_no_process_in_reach_carries_a_secret():
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                environ = (proc / "environ").read_bytes()
            except OSError:
                continue
            assert not any(v.encode() in environ for v in SECRET_VALUES), proc.name


def test_home_is_an_empty_directory_of_its_own():
    home = Path(os.environ["HOME"])
    assert home.is_dir()
    assert str(home) != REAL_HOME
    assert list(home.iterdir()) == []
"""

WRITES_OUTSIDE = """
from pathlib import Path

TARGETS = {targets!r}


def test_try_to_write_outside_the_copy():
    landed = []
    for target in TARGETS:
        try:
            with open(target, "a") as handle:
                handle.write("escaped\\n")
            landed.append(target)
        except OSError:
            pass
    # Writes may succeed into a throw-away mount; the outer test checks nothing arrived.
    assert all(Path(t).parent.exists() for t in landed)
"""

ONLY_LOOPBACK = """
import socket
from pathlib import Path


def test_only_loopback_interface():
    assert [name for _index, name in socket.if_nameindex()] == ["lo"]
    devices = Path("/proc/net/dev").read_text().splitlines()[2:]
    assert [line.split(":")[0].strip() for line in devices] == ["lo"]


def test_no_route_out():
    assert Path("/proc/net/route").read_text().splitlines()[1:] == []


def test_loopback_is_up_and_usable():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=5)
    conn, _ = server.accept()
    client.sendall(b"ping")
    assert conn.recv(4) == b"ping"
    for s in (client, conn, server):
        s.close()
"""

RAW_CONNECT = """
import ctypes
import errno
import socket
import struct


def test_unguarded_connect_finds_no_route():
    # libc's connect() skips the plugin's guard (and its audit hook): this checks the
    # namespace, not the guard
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    address = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 9)
    address += socket.inet_aton("10.255.255.1") + bytes(8)
    code = libc.connect(fd, address, len(address))
    err = ctypes.get_errno()
    libc.close(fd)
    assert code == -1 and err in (errno.ENETUNREACH, errno.EHOSTUNREACH), (code, err)
"""

GUARDED_CONNECTS = """
import socket

import pytest


def test_guard_refuses_and_records():
    with pytest.raises(OSError, match="blocked by the itarch sandbox"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(OSError):
        socket.getaddrinfo("example.com", 443)
    sock = socket.socket()
    with pytest.raises(OSError, match="blocked"):
        sock.connect(("198.51.100.7", 81))
    sock.close()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(OSError, match="blocked"):
        udp.sendto(b"x", ("203.0.113.9", 53))
    udp.close()


def test_loopback_and_localhost_are_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    client = socket.create_connection(("localhost", port), timeout=5)
    client.close()
    server.close()
"""


def by_name(result: RunResult) -> dict[str, str]:
    return {o.nodeid.rsplit("::", 1)[-1]: o.outcome for o in result.outcomes}


def failures(result: RunResult) -> str:
    return "\n".join(f"{o.nodeid}: {o.longrepr}" for o in result.outcomes if o.outcome != "passed")


@pytest.fixture(params=ISOLATED, ids=lambda level: level.value)
def isolated_sandbox(
    request: pytest.FixtureRequest, repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> Sandbox:
    return sandbox_factory(repo, request.param)


def test_secrets_in_our_environment_never_reach_a_test(
    isolated_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    source = SEES_NO_SECRETS.format(
        values=list(SECRETS.values()), home=os.path.realpath(os.path.expanduser("~"))
    )
    result = isolated_sandbox.run({"tests/test_secrets.py": source})
    assert by_name(result) == {
        "test_environment_has_no_secrets": "passed",
        "test_no_process_in_reach_carries_a_secret": "passed",
        "test_home_is_an_empty_directory_of_its_own": "passed",
    }, failures(result)


def test_writes_outside_the_copy_land_nowhere(isolated_sandbox: Sandbox, repo: Path) -> None:
    before = tree_fingerprint(repo)
    home_target = Path(os.path.expanduser("~")) / f"itarch-escape-{uuid.uuid4().hex}"
    targets = [
        str(repo / "shopkit" / "prices.py"),
        str(repo / "escaped.txt"),
        str(repo / ".git" / "config"),
        str(home_target),
    ]
    try:
        result = isolated_sandbox.run(
            {"tests/test_escape.py": WRITES_OUTSIDE.format(targets=targets)}
        )
        assert by_name(result) == {"test_try_to_write_outside_the_copy": "passed"}, failures(result)
        assert not home_target.exists()
        assert tree_fingerprint(repo) == before
    finally:
        home_target.unlink(missing_ok=True)


def test_network_namespace_has_only_a_working_loopback(isolated_sandbox: Sandbox) -> None:
    result = isolated_sandbox.run({"tests/test_net.py": ONLY_LOOPBACK})
    assert by_name(result) == {
        "test_only_loopback_interface": "passed",
        "test_no_route_out": "passed",
        "test_loopback_is_up_and_usable": "passed",
    }, failures(result)


def run_in_own_netns(repo: Path, level: IsolationLevel, files: dict[str, str]) -> RunResult:
    files_json = repo.parent / f"files-{uuid.uuid4().hex}.json"
    files_json.write_text(json.dumps(files), encoding="utf-8")
    runner = Path(__file__).with_name("netns_runner.py")
    proc = subprocess.run(
        ["unshare", "-rn", str(PYTHON), str(runner), str(repo), level.value, str(files_json)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return RunResult.model_validate_json(proc.stdout.strip().splitlines()[-1])


needs_netns = pytest.mark.skipif(not unshare_rn_available(), reason="unshare -rn not permitted")


@needs_netns
@pytest.mark.parametrize("level", ISOLATED, ids=lambda level: level.value)
def test_connect_out_finds_no_route(repo: Path, level: IsolationLevel) -> None:
    result = run_in_own_netns(repo, level, {"tests/test_raw.py": RAW_CONNECT})
    assert result.isolation == level
    assert by_name(result) == {"test_unguarded_connect_finds_no_route": "passed"}, failures(result)


@needs_netns
@pytest.mark.parametrize("level", ALL_LEVELS, ids=lambda level: level.value)
def test_plugin_guard_refuses_and_records_non_loopback_targets(
    repo: Path, level: IsolationLevel
) -> None:
    result = run_in_own_netns(repo, level, {"tests/test_guard.py": GUARDED_CONNECTS})
    outcomes = {o.nodeid.rsplit("::", 1)[-1]: o for o in result.outcomes}
    assert outcomes["test_guard_refuses_and_records"].outcome == "passed", failures(result)
    assert outcomes["test_guard_refuses_and_records"].network == [
        "192.0.2.1:80",
        "example.com:443",
        "198.51.100.7:81",
        "203.0.113.9:53",
    ]
    assert outcomes["test_loopback_and_localhost_are_allowed"].outcome == "passed"
    assert outcomes["test_loopback_and_localhost_are_allowed"].network == []


def test_probe_reports_a_level_and_why_others_are_missing() -> None:
    level, notes = probe_isolation()
    assert level == ISOLATED[0]
    assert any(note.startswith("container:") for note in notes)


@pytest.mark.parametrize(
    ("requested", "fragment"),
    [("container", "not available"), ("chroot", "unknown isolation")],
)
def test_unavailable_or_unknown_isolation_is_one_clear_error(
    repo: Path, requested: str, fragment: str
) -> None:
    with pytest.raises(SandboxError, match=fragment) as caught:
        Sandbox(repo, PYTHON, settings().model_copy(update={"isolation": requested}))
    assert "\n" not in str(caught.value)


def test_process_level_says_loudly_that_it_is_not_isolated(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    with structlog.testing.capture_logs() as logs:
        box = sandbox_factory(repo, IsolationLevel.PROCESS)
    assert any("NOT ISOLATED" in entry["event"] for entry in logs)
    result = box.run(select=["tests/test_prices.py"])
    assert result.isolation == IsolationLevel.PROCESS
    assert by_name(result) == {"test_total": "passed"}
