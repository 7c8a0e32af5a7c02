"""What the tests kept so far leave open: surviving mutants, unexecuted changed lines, seams.

A verdict says what was wrong with a proposal; this says what is still worth a test after it,
across every proposal of the run, so the model can aim its next one (or decide it is done).
"""

from __future__ import annotations

import ast
from pathlib import Path

from agent.quality import coverage as cov
from agent.quality.mutation import MutationResult
from agent.quality.mutator import Mutant
from agent.quality.scope import Scope
from agent.quality.work import FileWork

SHOWN = 10  # of each list: the model gets the most valuable few, not an inventory


def statement_lines(path: Path) -> set[int]:
    """Lines where a statement inside a function starts: what a test's trace can show.

    Module-level lines run once, at import, while pytest collects: no test is credited with them.
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    lines: set[int] = set()
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                if isinstance(node, ast.stmt) and node is not function and not docstring:
                    lines.add(node.lineno)
    return lines


class OpenWork:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.lines: dict[str, set[int]] = {}  # executed by kept tests
        self.seams: set[str] = set()  # exercised by kept tests
        self.mutants: dict[str, Mutant] = {}  # every scored mutant seen in the run
        self.killed: set[str] = set()  # by kept tests

    def keep(self, works: list[FileWork], mutation: MutationResult | None) -> None:
        """Count what the kept files of this proposal execute, exercise and kill."""
        kept_ids: set[str] = set()
        for work in works:
            if not work.verdict().accepted:
                continue
            for test in work.tests.values():
                if not test.candidate:
                    continue
                kept_ids.add(test.nodeid)
                self.seams.update(test.seams)
                for path, lines in test.lines.items():
                    self.lines.setdefault(path, set()).update(lines)
        if mutation is not None:
            self.mutants.update({m.id: m for m in mutation.counted()})
            self.killed |= mutation.killed(kept_ids)

    def killed_so_far(self) -> tuple[int, int]:
        """(mutants of the changed lines the kept tests kill, mutants seen) over the run."""
        return len(self.killed & self.mutants.keys()), len(self.mutants)

    def summary(self) -> dict[str, list[str]]:
        survivors = sorted(
            (m for m in self.mutants.values() if m.id not in self.killed),
            key=lambda m: (m.path, m.line),
        )
        workspace = self.scope.workspace
        unexecuted = {
            path: (lines & statement_lines(workspace / path)) - self.lines.get(path, set())
            for path, lines in self.scope.changed.items()
        }
        # The biggest stretches of untested change first.
        by_size = sorted(((p, ls) for p, ls in unexecuted.items() if ls), key=lambda e: -len(e[1]))
        # An import seam runs at collection, never inside a test: no test can be credited.
        seams = [
            s
            for s in self.scope.seams
            if s.changed and s.id not in self.seams and s.kind != "import"
        ]
        return {
            "survivors": [f"{m.path}:{m.line}: {m.description}" for m in survivors][:SHOWN],
            "unexecuted_changes": [
                cov.describe_lines({p: ls}, workspace) for p, ls in by_size[:SHOWN]
            ],
            "untested_seams": [
                f"{s.kind} {s.path}:{s.line} {s.detail or s.symbol}".rstrip() for s in seams
            ][:SHOWN],
        }
