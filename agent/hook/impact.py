"""What the test-impact index (`agent/index`) says about a pushed change: which changed functions
no existing test executes.

Execution decides, not names: a changed function is tested when a passing indexed test ran it
(recorded by qualified name, so an entry recorded before the edit still answers), and a changed
module-level statement when a passing indexed test file imports the module. Test files the index
does not know yet (new in the push, never run) fall back to the static mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.context.behaviour import compare
from agent.index import MODULE, ImpactIndex, function_spans, open_index
from agent.tests_map import functions_run

STATIC_HINT = "static only: build the test-impact index with `itarch index` to decide by execution"


@dataclass(frozen=True)
class ChangedFunction:
    path: str
    qualname: str  # `Class.method`, or `<module>` for module-level statements
    line: int  # its first changed line
    new: bool = False  # not in the base at all


def changed_functions(
    path: str, old_text: str | None, new_text: str, lines: set[int]
) -> list[ChangedFunction] | None:
    """The functions whose behaviour the change altered (None: the change is cosmetic or only
    release metadata, so nothing in it needs a test)."""
    behaviour = compare(old_text, new_text, lines)
    if behaviour.cosmetic or not behaviour.lines:
        return None
    spans = function_spans(new_text)
    first: dict[str, int] = {}
    for line in sorted(behaviour.lines):
        name = MODULE
        for start, end, qualname in spans:
            if start <= line <= end:
                name = qualname
        first.setdefault(name, line)
    return [
        ChangedFunction(path, name, line, new=name in behaviour.new) for name, line in first.items()
    ]


class IndexAnswers:
    """The index opened read-only for one push; None from `open_for` when there is none."""

    def __init__(self, index: ImpactIndex) -> None:
        self._index = index
        self.test_files = set(index.test_files())

    @classmethod
    def open_for(cls, repo: Path) -> IndexAnswers | None:
        index = open_index(repo, create=False, read_only=True)
        if index is None:
            return None
        answers = cls(index)
        return answers if answers.test_files else None

    def runs(self, changed: ChangedFunction) -> bool:
        """Whether a passing indexed test executes this function (or imports its module)."""
        if changed.qualname == MODULE:
            return self._index.imported_by_passing(changed.path)
        ran = functions_run(self._index, changed.path).values()
        return any(changed.qualname in functions for functions in ran)

    def describe(self) -> str:
        return f"execution: the test-impact index of {len(self.test_files)} test file(s)"

    def close(self) -> None:
        self._index.close()
