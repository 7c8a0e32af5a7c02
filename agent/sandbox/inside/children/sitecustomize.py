"""Line tracing in the Python processes a test starts (`python -m app`, the project's CLI).

Integration tests often drive the project through a child process. This module is on the
sandbox's PYTHONPATH, so every Python child imports it at start-up (site.py does); it does
nothing unless the harness set ITARCH_TRACE_TEST (the test running now) and ITARCH_CHILD_TRACE
(which files to trace, as {absolute filename: repo path}). The lines go to one JSON file per
process in ITARCH_CHILDREN_DIR, written at exit and before an exec replaces the process; the
result plugin adds them to the test's own lines. A child killed by a signal reports nothing.

Runs under the target's interpreter: standard library only, old syntax. Afterwards the
project's own sitecustomize, if it has one, is loaded as usual.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading


def _start(test: str, targets: dict[str, str], out_dir: str) -> None:
    hits: dict[str, set[int]] = {}

    def global_trace(frame, event, arg):
        rel = targets.get(frame.f_code.co_filename)
        if rel is None:
            return None
        lines = hits.setdefault(rel, set())

        def local(frame, event, arg):
            if event == "line":
                lines.add(frame.f_lineno)
            return local

        return local

    def flush():
        if not hits:
            return
        data = {"test": test, "lines": {rel: sorted(lines) for rel, lines in hits.items()}}
        name = os.path.join(out_dir, f"{os.getpid()}-{os.urandom(6).hex()}.json")
        try:
            with open(name + ".part", "w") as handle:
                json.dump(data, handle)
            os.rename(name + ".part", name)
        except OSError:
            pass
        hits.clear()

    def flushing(function):
        def wrapper(*args, **kwargs):
            flush()
            return function(*args, **kwargs)

        return wrapper

    # os.exec* and os._exit skip atexit: write what ran before the process is replaced
    for name in ("execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "_exit"):
        if hasattr(os, name):
            setattr(os, name, flushing(getattr(os, name)))
    atexit.register(flush)
    threading.settrace(global_trace)
    sys.settrace(global_trace)
    # Code that looks for a debugger (`sys.gettrace() is not None`) must not find this tracer.
    real = sys.gettrace
    sys.gettrace = lambda: None if real() is global_trace else real()


def _main():
    test = os.environ.get("ITARCH_TRACE_TEST")
    spec = os.environ.get("ITARCH_CHILD_TRACE")
    out_dir = os.environ.get("ITARCH_CHILDREN_DIR")
    if not (test and spec and out_dir and os.path.isdir(out_dir)):
        return
    try:
        targets = json.loads(spec)
    except ValueError:
        return
    if isinstance(targets, dict) and targets:
        _start(test, targets, out_dir)


def _chain():
    """Load the sitecustomize this one stands in front of, if the environment has one."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        import importlib.machinery
        import importlib.util

        path = [p for p in sys.path if os.path.abspath(p or ".") != here]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
    except Exception:
        pass


_main()
_chain()
