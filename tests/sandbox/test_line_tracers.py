"""The line tracers of the in-sandbox plugin record the same lines: `sys.settrace` (any Python)
and `sys.monitoring` (3.12+, much cheaper), each on a real interpreter of that version, once per
test, with nothing of untraced files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "agent" / "sandbox" / "inside"
SITE = sysconfig.get_paths()["purelib"]  # pytest is pure Python: the 3.12 run can import it

TARGET = """
def pick(x):
    if x > 1:
        return "big"
    return "small"


def gen(n):
    for i in range(n):
        yield i * 2
"""

SCRIPT = """
import json, sys
sys.path[:0] = [{plugin!r}, {site!r}, {here!r}]
import itarch_pytest, target
tracer = itarch_pytest.{factory}({{target.__file__: "target.py"}})
rounds = []
for x in (5, 0):
    tracer.start()
    target.pick(x)
    list(target.gen(2))
    json.dumps(x)  # an untraced file
    rounds.append(tracer.stop())
target.pick(5)  # after stop: not recorded
print(json.dumps({{"kind": type(tracer).__name__, "rounds": rounds}}))
"""


def _interpreter(version: str) -> str | None:
    """A working Python of that version (pyenv's shims may name one they cannot run)."""
    candidates = sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{version}*/bin/python"))
    candidates += [c for c in (shutil.which(f"python{version}"),) if c]
    for candidate in candidates:
        done = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if done.returncode == 0 and done.stdout.strip() == version:
            return candidate
    return None


def _run(python: str, factory: str, tmp_path: Path) -> dict:
    (tmp_path / "target.py").write_text(TARGET, encoding="utf-8")
    script = SCRIPT.format(plugin=str(PLUGIN), site=SITE, here=str(tmp_path), factory=factory)
    done = subprocess.run(
        [python, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))


EXPECTED = [{"target.py": [3, 4, 9, 10]}, {"target.py": [3, 5, 9, 10]}]


def test_settrace_records_each_tests_lines(tmp_path: Path) -> None:
    result = _run(sys.executable, "_Tracer", tmp_path)
    assert result["rounds"] == EXPECTED


@pytest.mark.skipif(_interpreter("3.12") is None, reason="no Python 3.12 on this machine")
def test_monitoring_records_the_same_lines_on_3_12(tmp_path: Path) -> None:
    python = _interpreter("3.12")
    assert python is not None
    result = _run(python, "_line_tracer", tmp_path)
    assert result["kind"] == "_MonitoringTracer"
    assert result["rounds"] == EXPECTED


DEBUGGER_CHECK = {
    "probe.py": ("import sys\n\n\ndef debugging():\n    return sys.gettrace() is not None\n"),
    "tests/test_probe.py": (
        "import subprocess\nimport sys\n\nfrom probe import debugging\n\n\n"
        "def test_no_debugger_in_the_test():\n    assert debugging() is False\n\n\n"
        "def test_no_debugger_in_a_child():\n"
        "    out = subprocess.run(\n"
        "        [sys.executable, '-c', 'import probe; print(probe.debugging())'],\n"
        "        capture_output=True, text=True, check=True,\n"
        "    ).stdout\n"
        "    assert out.strip() == 'False'\n\n\n"
        "def test_own_trace_function_runs_beside_the_tracer():\n"
        "    seen = []\n\n"
        "    def mine(frame, event, arg):\n"
        "        if event == 'call':\n"
        "            seen.append(frame.f_code.co_name)\n\n"
        "    sys.settrace(mine)\n"
        "    try:\n"
        "        assert sys.gettrace() is mine\n"
        "        assert debugging() is True\n"
        "    finally:\n"
        "        sys.settrace(None)\n"
        "    assert 'debugging' in seen\n"
        "    assert sys.gettrace() is None\n"
    ),
}


def test_the_line_tracer_is_invisible_to_the_code_under_test(tmp_path: Path) -> None:
    from agent.sandbox import Sandbox

    from .helpers import PYTHON, make_git_repo, settings

    repo = make_git_repo(tmp_path / "repo", DEBUGGER_CHECK)
    with Sandbox(repo, PYTHON, settings()) as box:
        result = box.run({}, select=["tests/test_probe.py"], trace=["probe.py"])
    outcomes = {o.nodeid.rsplit("::", 1)[1]: o for o in result.outcomes if o.when == "call"}
    assert {name: o.outcome for name, o in outcomes.items()} == {
        "test_no_debugger_in_the_test": "passed",
        "test_no_debugger_in_a_child": "passed",
        "test_own_trace_function_runs_beside_the_tracer": "passed",
    }
    assert outcomes["test_no_debugger_in_the_test"].lines == {"probe.py": [5]}  # still traced
    # a trace function of the test's own runs beside ours: its lines are still recorded
    assert outcomes["test_own_trace_function_runs_beside_the_tracer"].lines == {"probe.py": [5]}
