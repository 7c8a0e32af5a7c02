"""Where a run's wall time goes: the model, the tests (pytest in the sandbox), and the rest.

"The rest" is the harness's own overhead: building the context, copying the workspace,
starting sandboxes, judging, journaling. Sandbox runs are timed by wrapping `Sandbox.run` while
a measurement is open (and only then); each thread keeps its own tally, so targets may run in
parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from agent.sandbox import Sandbox
from agent.schema import RunResult


@dataclass
class Tally:
    runs: int = 0
    seconds: float = 0.0  # wall time of the pytest processes
    test_seconds: float = 0.0  # ... of which the tests themselves (setup, call, teardown)


_local = threading.local()
_lock = threading.Lock()
_open = 0
_original: Any = None


def _timed(self: Sandbox, *args: Any, **kwargs: Any) -> RunResult:
    result: RunResult = _original(self, *args, **kwargs)
    tally: Tally | None = getattr(_local, "tally", None)
    if tally is not None:
        tally.runs += 1
        tally.seconds += result.duration
        # Mutants run in parallel children: their tests can add up to more than the wall time.
        tally.test_seconds += min(result.duration, sum(o.duration for o in result.outcomes))
    return result


@contextmanager
def sandbox_time() -> Iterator[Tally]:
    """Count the sandbox runs this thread makes inside the block, and their pytest time."""
    global _open, _original
    with _lock:
        if _open == 0:
            _original = Sandbox.run
            Sandbox.run = _timed  # type: ignore[method-assign]
        _open += 1
    tally = Tally()
    previous = getattr(_local, "tally", None)
    _local.tally = tally
    try:
        yield tally
    finally:
        _local.tally = previous
        with _lock:
            _open -= 1
            if _open == 0:
                Sandbox.run = _original  # type: ignore[method-assign]
