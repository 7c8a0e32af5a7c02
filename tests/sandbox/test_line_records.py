"""The line recorder of Pythons before 3.12 (inside/itarch_lines.py): traced files are compiled
with a record before each statement, and per test it reports the lines `sys.settrace` does.

Each sandbox test runs the same real files twice, with the recorder and with the old settrace
tracer (ITARCH_LINE_TRACER=settrace), and compares what every test recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.sandbox import Sandbox
from agent.sandbox.inside import itarch_lines

from .helpers import make_git_repo

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12+ records lines with sys.monitoring"
)

PLUGIN = Path(__file__).resolve().parents[2] / "agent" / "sandbox" / "inside"

FLOW = '''"""Every kind of statement a test may run."""
from __future__ import annotations

import functools

LIMITS = [
    1,
    2,
]


def logged(f):
    @functools.wraps(f)
    def inner(*args):
        return f(*args)
    return inner


@logged
def size(x):
    """Doc."""
    if x > 10:
        label = "big"
    elif x > 5:
        label = "mid"
    else:
        label = "small"
    return label


def divide(x):
    try:
        r = 10 / x
    except ZeroDivisionError:
        r = None
    except (TypeError,
            ValueError) as e:
        r = str(e)
    else:
        r = r * 2
    finally:
        done = True
    return r


def loops(n):
    total = 0
    for i in range(n):
        if i % 2:
            continue
        total += i
    else:
        total += 100
    while total > 50:
        total -= 7
        if total < 60:
            break
    return total


def spread(a,
           b=2):
    value = max(
        a,
        b,
    )
    kept = [v
            for v in range(value)
            if v % 2]
    return (value or
            len(kept))


def counter(n):
    for i in range(n):
        yield i
    yield from range(2)


def outer(x):
    def inner(y):
        return y + x
    double = lambda z: z * 2
    return inner(double(x))


class Box:
    """Class doc."""
    kind = "box"

    def __init__(self, v):
        self.v = v

    @property
    def twice(self):
        return self.v * 2


def fails(x):
    if x:
        raise ValueError("no %r" % x)
    return x


def to_be_done(x):
    """Only a docstring, which Python 3.11 returns from on the `def` line."""
'''

TESTS = """
import sys
import threading

from shopkit import flow


def test_if_branch():
    assert flow.size(20) == "big"


def test_elif_branch():
    assert flow.size(7) == "mid"


def test_else_branch():
    assert flow.size(1) == "small"


def test_try_else_finally():
    assert flow.divide(2) == 10.0


def test_first_except():
    assert flow.divide(0) is None


def test_second_except():
    assert flow.divide("a")


def test_loops():
    assert flow.loops(10) == 57


def test_loops_without_iterations():
    assert flow.loops(0) == 58


def test_multi_line_statements():
    assert flow.spread(5) == 5


def test_multi_line_statements_short_circuit():
    assert flow.spread(0, 0) == 0


def test_generator():
    assert list(flow.counter(2)) == [0, 1, 0, 1]


def test_nested_functions():
    assert flow.outer(2) == 6


def test_class():
    assert flow.Box(3).twice == 6


def test_fails_where_it_raises():
    flow.fails(3)


def test_own_trace_function():
    seen = []

    def mine(frame, event, arg):
        if event == "call":
            seen.append(frame.f_code.co_name)
        return None

    sys.settrace(mine)
    try:
        assert sys.gettrace() is mine
        flow.size(20)
    finally:
        sys.settrace(None)
    assert "size" in seen
    assert sys.gettrace() is None


def test_no_tracer_visible():
    assert sys.gettrace() is None
    flow.divide(1)


def test_only_a_docstring():
    assert flow.to_be_done(1) is None


def test_compiled_with_records():
    assert any(isinstance(c, bytearray) for c in flow.divide.__code__.co_consts)


def test_thread():
    results = []
    worker = threading.Thread(target=lambda: results.append(flow.loops(3)))
    worker.start()
    worker.join()
    assert results == [53]
"""

# lines of FLOW each test runs (the decorator wrapper `inner` runs first for size)
EXPECTED = {
    "test_if_branch": [15, 22, 23, 28],
    "test_elif_branch": [15, 22, 24, 25, 28],
    "test_else_branch": [15, 22, 24, 27, 28],
    "test_try_else_finally": [32, 33, 40, 42, 43],
    "test_first_except": [32, 33, 34, 35, 42, 43],
    "test_second_except": [32, 33, 34, 36, 37, 38, 42, 43],
    "test_fails_where_it_raises": [100, 101],
}


def _run(
    monkeypatch: pytest.MonkeyPatch,
    sandbox_factory: Callable[..., Sandbox],
    repo: Path,
    tracer: str,
    files: dict[str, str],
    trace: list[str],
) -> dict[str, object]:
    monkeypatch.setenv("ITARCH_LINE_TRACER", tracer)
    box = sandbox_factory(repo)
    result = box.run(files, trace=trace)
    return {o.nodeid.rsplit("::", 1)[-1]: o for o in result.outcomes}


def test_records_the_lines_settrace_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_factory: Callable[..., Sandbox]
) -> None:
    repo = make_git_repo(tmp_path / "shop", {"shopkit/flow.py": FLOW})
    files = {"tests/test_flow.py": TESTS}
    records = _run(monkeypatch, sandbox_factory, repo, "records", files, ["shopkit/flow.py"])
    settrace = _run(monkeypatch, sandbox_factory, repo, "settrace", files, ["shopkit/flow.py"])

    assert set(records) == set(settrace) and len(records) == 19
    # the recorder was in use, then the old tracer
    assert records.pop("test_compiled_with_records").outcome == "passed"  # type: ignore[attr-defined]
    assert settrace.pop("test_compiled_with_records").outcome == "failed"  # type: ignore[attr-defined]
    outcomes = {name: o.outcome for name, o in records.items()}  # type: ignore[attr-defined]
    assert outcomes == {name: o.outcome for name, o in settrace.items()}  # type: ignore[attr-defined]
    assert outcomes.pop("test_fails_where_it_raises") == "failed"
    assert {n: o for n, o in outcomes.items() if o != "passed"} == {}, records
    differ = {
        name: (o.lines, settrace[name].lines)  # type: ignore[attr-defined]
        for name, o in records.items()
        if o.lines != settrace[name].lines  # type: ignore[attr-defined]
    }
    assert differ == {}
    lines = {name: o.lines.get("shopkit/flow.py", []) for name, o in records.items()}  # type: ignore[attr-defined]
    for name, expected in EXPECTED.items():
        assert lines[name] == expected, name
    assert lines["test_thread"] == [47, 48, 49, 50, 51, 53, 54, 55, 56, 57, 58]  # in a thread
    assert lines["test_loops_without_iterations"] == [47, 48, 53, 54, 55, 56, 57, 58]
    assert lines["test_only_a_docstring"] == [105]
    # the comprehension's condition and the `or`'s right side ran, or not
    assert {69, 71} & set(lines["test_multi_line_statements"]) == {69}
    assert {69, 71} & set(lines["test_multi_line_statements_short_circuit"]) == {71}
    # an error's traceback points at the same line as without records
    failure = records["test_fails_where_it_raises"].longrepr  # type: ignore[attr-defined]
    assert "shopkit/flow.py:101: in fails\n    raise ValueError" in failure


CONFTEST = """
import pytest


@pytest.fixture
def answer():
    value = 6 * 7
    return value
"""


def test_a_file_another_loader_compiles_is_traced_with_settrace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_factory: Callable[..., Sandbox]
) -> None:
    """pytest compiles a conftest.py itself (assertion rewriting): no records in it, so its lines
    come from the settrace tracer, beside the records of the other files."""
    repo = make_git_repo(
        tmp_path / "shop", {"shopkit/flow.py": FLOW, "tests/conftest.py": CONFTEST}
    )
    files = {
        "tests/test_answer.py": (
            "from shopkit import flow\n\n\ndef test_answer(answer):\n"
            "    assert answer == 42\n    assert flow.size(1) == 'small'\n"
        )
    }
    trace = ["shopkit/flow.py", "tests/conftest.py"]
    records = _run(monkeypatch, sandbox_factory, repo, "records", files, trace)
    settrace = _run(monkeypatch, sandbox_factory, repo, "settrace", files, trace)
    got = records["test_answer"].lines  # type: ignore[attr-defined]
    assert got == {"tests/conftest.py": [7, 8], "shopkit/flow.py": [15, 22, 24, 27, 28]}
    assert got == settrace["test_answer"].lines  # type: ignore[attr-defined]


BEFORE = """
import json, sys
sys.path[:0] = [{plugin!r}, {here!r}]
import early  # imported before the hook: only settrace can see it
import itarch_pytest
tracer = itarch_pytest._line_tracer({{{early!r}: "early.py", {late!r}: "late.py"}})
import late
rounds = []
for x in (1, 0):
    tracer.start()
    inside = sys.gettrace()
    early.pick(x)
    late.pick(x)
    rounds.append(tracer.stop())
late.pick(1)  # after stop: not recorded
hook = itarch_pytest.itarch_lines.installed()
fallback = sorted(hook.fallback.values()) if hook is not None else None
print(json.dumps({{"kind": type(tracer).__name__, "rounds": rounds, "fallback": fallback,
                  "gettrace": repr(inside)}}))
"""

PICK = "def pick(x):\n    if x:\n        return 'yes'\n    return 'no'\n"


def _script(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    for name in ("early", "late"):
        (tmp_path / f"{name}.py").write_text(PICK, encoding="utf-8")
    script = BEFORE.format(
        plugin=str(PLUGIN),
        here=str(tmp_path),
        early=str(tmp_path / "early.py"),
        late=str(tmp_path / "late.py"),
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_a_file_imported_before_the_hook_falls_back_to_settrace(tmp_path: Path) -> None:
    result = _script(tmp_path)
    assert result["kind"] == "RecordingTracer"
    assert result["fallback"] == ["early.py"]
    assert result["rounds"] == [
        {"early.py": [2, 3], "late.py": [2, 3]},
        {"early.py": [2, 4], "late.py": [2, 4]},
    ]
    assert result["gettrace"] == "None"  # the settrace fallback stays hidden


def test_the_switch_brings_back_the_settrace_tracer(tmp_path: Path) -> None:
    import os

    result = _script(tmp_path, env={**os.environ, "ITARCH_LINE_TRACER": "settrace"})
    assert result["kind"] == "_Tracer"
    assert result["rounds"] == [
        {"early.py": [2, 3], "late.py": [2, 3]},
        {"early.py": [2, 4], "late.py": [2, 4]},
    ]


def test_instrumented_code_keeps_line_numbers_and_leaves_no_names() -> None:
    source = (
        "x = 1\n\n\ndef f(a):\n    if a:\n        return (a +\n                1)\n    return 0\n"
    )
    code, hits, slots = itarch_lines.instrument(source, "<m>")
    namespace: dict[str, object] = {}
    exec(code, namespace)
    assert sorted(namespace) == ["__builtins__", "f", "x"]
    f = namespace["f"]
    hits[:] = bytes(len(hits))
    assert f(2) == 3  # type: ignore[operator]
    assert sorted({n for k, s in enumerate(slots) if hits[k] for n in s}) == [5, 6, 7]
    assert {line for _, _, line in f.__code__.co_lines()} - {None} == {4, 5, 6, 7, 8}  # type: ignore[attr-defined]


REWRITES_THE_RECORDER = """
import sys

from shopkit import flow


def test_hides_its_lines():
    recorder = sys.modules["itarch_lines"].RecordingTracer
    recorder.stop = lambda self: {}
    flow.size(1)
"""


def test_rewriting_the_recorder_makes_the_run_untrusted(
    repo: Path, monkeypatch: pytest.MonkeyPatch, sandbox_factory: Callable[..., Sandbox]
) -> None:
    repo = make_git_repo(repo.parent / "flow", {"shopkit/flow.py": FLOW})
    monkeypatch.delenv("ITARCH_LINE_TRACER", raising=False)
    box = sandbox_factory(repo)
    result = box.run({"tests/test_hide.py": REWRITES_THE_RECORDER}, trace=["shopkit/flow.py"])
    assert result.crashed is not None
    assert "itarch_lines.RecordingTracer.stop" in result.crashed
