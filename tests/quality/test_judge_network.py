"""A test that reaches past loopback is rejected as `network`, from the plugin's record of the
attempt, not merely because it failed. The check runs in a network namespace this test makes
itself (`unshare -rn`), and the target is a documentation-only literal address."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.schema import CheckResult, Reason

from .conftest import Ledger, verdicts

RUNNER = Path(__file__).with_name("netns_check.py")
TARGET = "192.0.2.1"  # TEST-NET-1: never routed anywhere


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _unshare_works(), reason="unshare -rn is not permitted here")

REACHES_OUT = f'''
import socket

from ledger.pricing import total


def test_reports_the_total_upstream():
    try:
        socket.create_connection(("{TARGET}", 80), timeout=1).close()
    except OSError:
        pass
    assert total([(1, 10.0)]) == 12.0
'''

LOOPBACK_ONLY = """
import socket
import threading

from ledger.pricing import total


def test_talks_to_its_own_server_on_loopback():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    thread.start()
    client = socket.create_connection(("127.0.0.1", port), timeout=2)
    thread.join(2)
    client.close()
    accepted[0].close()
    server.close()
    assert total([(1, 10.0)]) == 12.0
"""


def test_reaching_beyond_loopback_is_rejected_as_network(ledger: Ledger, tmp_path: Path) -> None:
    files = [
        {"path": "tests/test_upstream.py", "content": REACHES_OUT},
        {"path": "tests/test_loopback.py", "content": LOOPBACK_ONLY},
    ]
    spec = tmp_path / "files.json"
    spec.write_text(json.dumps(files), encoding="utf-8")
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, str(RUNNER), str(ledger.path), str(spec)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = CheckResult.model_validate_json(done.stdout.strip().splitlines()[-1])
    (upstream,) = verdicts(result, "tests/test_upstream.py").values()
    assert upstream.reason == Reason.NETWORK, upstream
    assert TARGET in upstream.detail
    (loopback,) = verdicts(result, "tests/test_loopback.py").values()
    assert loopback.verdict == "accepted", loopback
