"""Runs mutants inside one sandboxed pytest session, without writing a single source file.

This module is copied into the sandbox's workspace for a mutation run and hooked in through a
conftest line, so it runs under the *target's* interpreter: standard library and pytest only,
syntax older Pythons accept.

pytest collects the covering tests once. Then, per mutant, a forked child swaps the `__code__` of
the one function the mutant changes (or re-runs one module-level assignment), runs that mutant's
tests, and exits; the parent keeps a few children going at once and kills any that overrun.
Outcomes flow through the sandbox plugin's results stream with `run` = mutant index + 1, so the
harness reads them like any other run.
"""

from __future__ import annotations
import __future__

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import sys
import time
import types
from typing import Any

import pytest

PLAN_FILE = "_itarch_mutation_plan.json"


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: Any) -> Any:
    plan_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), PLAN_FILE)
    if not os.path.exists(plan_path):
        return None
    with open(plan_path, encoding="utf-8") as handle:
        plan = json.load(handle)
    items = {item.nodeid: item for item in session.items}
    _Parent(session, plan, items).run()
    return True


class _Child:
    def __init__(self, pid: int, fd: int, mutant: dict[str, Any]) -> None:
        self.pid = pid
        self.fd = fd
        self.mutant = mutant
        self.started = time.monotonic()
        self.buffer = b""
        self.done: set[str] = set()
        self.applied: bool | None = None
        self.ended = False  # the child said it finished on its own
        self.exited = False


class _Parent:
    def __init__(self, session: Any, plan: dict[str, Any], items: dict[str, Any]) -> None:
        self.session = session
        self.plan = plan
        self.items = items
        self.plugin = session.config.pluginmanager.get_plugin("itarch")
        self.root = str(session.config.rootpath)
        self.workers = max(1, int(plan.get("workers", 1)))

    def run(self) -> None:
        pending = list(self.plan.get("mutants", []))
        running: dict[int, _Child] = {}
        while pending or running:
            while pending and len(running) < self.workers:
                child = self._fork(pending.pop(0))
                running[child.fd] = child
            ready, _, _ = select.select(list(running), [], [], 0.05)
            for fd in ready:
                self._read(running[fd])
            now = time.monotonic()
            for fd, child in list(running.items()):
                budget = float(child.mutant.get("budget", 30.0))
                if not child.exited and now - child.started > budget:
                    _kill(child.pid)
                    self._finish(child, f"the tests ran past {budget:.1f}s under this mutant")
                    del running[fd]
                elif self._reap(child):
                    self._read(child)
                    self._finish(child, "the test process died under this mutant")
                    del running[fd]

    def _fork(self, mutant: dict[str, Any]) -> _Child:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            code = 0
            try:
                self._child(mutant, write_fd)
            except BaseException:
                code = 1
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os._exit(code)
        os.close(write_fd)
        return _Child(pid, read_fd, mutant)

    def _child(self, mutant: dict[str, Any], out: int) -> None:
        def send(data: dict[str, Any]) -> None:
            os.write(out, (json.dumps(data) + "\n").encode("utf-8"))

        try:
            applied = _apply(mutant, self.root)
        except Exception as exc:
            # The mutated module-level code itself fails: importing that module would fail, so
            # every test that uses it notices.
            send({"applied": True})
            run = int(mutant["index"]) + 1
            for nodeid in mutant.get("tests", []):
                if nodeid in self.items:
                    self._emit(nodeid, run, f"the mutated module fails to load: {exc!r}", False)
                    send({"done": nodeid, "killed": True})
        else:
            send({"applied": applied})
            if applied:
                self._run_tests(mutant, send)
        send({"end": True})

    def _run_tests(self, mutant: dict[str, Any], send: Any) -> None:
        tests = [self.items[n] for n in mutant.get("tests", []) if n in self.items]
        stop_on_kill = set(mutant.get("stop_on_kill", []))
        run = int(mutant["index"]) + 1
        runs = getattr(self.plugin, "runs", None)
        for position, item in enumerate(tests):
            if isinstance(runs, dict):
                runs[item.nodeid] = run  # the plugin labels this execution with the mutant
            nextitem = tests[position + 1] if position + 1 < len(tests) else None
            failed_before = self.session.testsfailed
            item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            killed = self.session.testsfailed > failed_before
            send({"done": item.nodeid, "killed": killed})
            if killed and item.nodeid in stop_on_kill:
                return

    def _read(self, child: _Child) -> None:
        try:
            chunk = os.read(child.fd, 65536)
        except OSError:
            return
        child.buffer += chunk
        while b"\n" in child.buffer:
            line, child.buffer = child.buffer.split(b"\n", 1)
            try:
                data = json.loads(line.decode("utf-8"))
            except ValueError:
                continue
            if "applied" in data:
                child.applied = bool(data["applied"])
            if "done" in data:
                child.done.add(str(data["done"]))
            if data.get("end"):
                child.ended = True

    def _reap(self, child: _Child) -> bool:
        try:
            pid, _status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            pid = child.pid
        if pid == child.pid:
            child.exited = True
            return True
        return False

    def _finish(self, child: _Child, why: str) -> None:
        """Record the test that was running when a child died or overran as killing the mutant."""
        if not child.exited:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)
        # drain what the child said before it went
        while True:
            ready, _, _ = select.select([child.fd], [], [], 0)
            if not ready:
                break
            before = len(child.done), child.applied
            self._read(child)
            if (len(child.done), child.applied) == before:
                break
        os.close(child.fd)
        if not child.applied or child.ended:
            return
        tests = [n for n in child.mutant.get("tests", []) if n in self.items]
        remaining = [n for n in tests if n not in child.done]
        if not remaining:
            return
        self._emit(
            remaining[0],
            int(child.mutant["index"]) + 1,
            why,
            timed_out=why.startswith("the tests ran past"),
        )

    def _emit(self, nodeid: str, run: int, message: str, timed_out: bool) -> None:
        record = {
            "nodeid": nodeid,
            "outcome": "failed",
            "when": "call",
            "duration": 0.0,
            "exc_type": None,
            "message": message,
            "longrepr": "",
            "assertion": False,
            "network": [],
            "lines": {},
            "xfail_strict": False,
            "xfail_reason": "",
            "timed_out": timed_out,
            "run": run,
        }
        # Only the sandbox plugin's stream is trusted: results go through it or not at all.
        stream = getattr(self.plugin, "stream", None)
        if stream is not None:
            stream.emit("outcome", **record)


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- applying one mutant


def _apply(mutant: dict[str, Any], root: str) -> bool:
    filename = os.path.realpath(os.path.join(root, mutant["path"]))
    module = _module_for(filename, mutant.get("module") or "")
    if mutant.get("statement"):
        if module is None:
            return False
        padding = "\n" * (int(mutant.get("statement_line", 1)) - 1)
        # Compile as the module was: with its `from __future__ import annotations`, if any.
        future = __future__.annotations
        flags = future.compiler_flag if module.__dict__.get("annotations") is future else 0
        code = compile(
            padding + mutant["statement"], filename, "exec", flags=flags, dont_inherit=True
        )
        exec(code, module.__dict__)
        return True
    function = mutant.get("function")
    if not function:
        return False
    compiled = compile(mutant["source"], filename, "exec", dont_inherit=True)
    first_line = int(mutant.get("function_line", 0))
    new_code = _find_code(compiled, function, first_line)
    if new_code is None:
        return False
    return _swap(filename, function, first_line, new_code) > 0


def _module_for(filename: str, name: str) -> types.ModuleType | None:
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.realpath(path) == filename:
            return module
    if name:
        try:
            return importlib.import_module(name)
        except Exception:
            return None
    return None


def _qualname(code: types.CodeType) -> str:
    return getattr(code, "co_qualname", code.co_name)


def _find_code(code: types.CodeType, qualname: str, first_line: int) -> types.CodeType | None:
    short = qualname.rsplit(".", 1)[-1]
    for const in code.co_consts:
        if not isinstance(const, types.CodeType):
            continue
        name_matches = _qualname(const) == qualname or (
            not hasattr(const, "co_qualname") and const.co_name == short
        )
        if name_matches and const.co_firstlineno == first_line:
            return const
        found = _find_code(const, qualname, first_line)
        if found is not None:
            return found
    return None


def _swap(filename: str, qualname: str, first_line: int, new_code: types.CodeType) -> int:
    """Give every live function object built from the original definition the mutated code."""
    short = qualname.rsplit(".", 1)[-1]
    swapped = 0
    seen_files: dict[str, bool] = {}
    for obj in gc.get_objects():
        if not isinstance(obj, types.FunctionType):
            continue
        code = obj.__code__
        if code.co_name != short or code.co_firstlineno != first_line:
            continue
        if _qualname(code) != qualname and hasattr(code, "co_qualname"):
            continue
        same = seen_files.get(code.co_filename)
        if same is None:
            same = os.path.realpath(code.co_filename) == filename
            seen_files[code.co_filename] = same
        if same and len(code.co_freevars) == len(new_code.co_freevars):
            obj.__code__ = new_code
            swapped += 1
    return swapped
