"""What a check measures against: the changed lines, the files to trace, the seams."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent.schema import Context, Seam
from agent.source.files import module_path


@dataclass(frozen=True)
class Scope:
    workspace: Path
    tests_root: str  # "tests", or "." when tests live beside the code
    changed: dict[str, set[int]] = field(default_factory=dict)  # with a base: path -> lines
    trace: list[str] = field(default_factory=list)  # source files whose lines are recorded
    seams: list[Seam] = field(default_factory=list)

    def in_tests_root(self, path: str) -> bool:
        if self.tests_root == ".":
            name = PurePosixPath(path).name
            return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
        return path == self.tests_root or path.startswith(self.tests_root + "/")


def scope_of(context: Context | None, workspace: Path, tests_root: str) -> Scope:
    """Changed lines come from a context with a base; without one, the context's modules are
    traced whole; without a context nothing is traced."""
    bare = Scope(workspace=workspace, tests_root=tests_root)
    if context is None:
        return bare
    changed: dict[str, set[int]] = {}
    if context.base:
        for c in context.changed:
            # Only lines that changed behaviour: a reformat, a comment or a docstring is not
            # something a test can pin, nor a place for mutants.
            lines = c.added_lines if c.behaviour_lines is None else c.behaviour_lines
            if (
                c.status != "deleted"
                and c.path.endswith(".py")
                and not c.cosmetic
                and lines
                and not bare.in_tests_root(c.path)
                and (workspace / c.path).is_file()
            ):
                changed[c.path] = set(lines)
    if changed:
        trace = sorted(changed)
    else:
        paths = {m.module: m.path for m in context.repo_map}
        found = {
            path
            for module in context.modules
            if (path := paths.get(module) or module_path(workspace, module))
            and (workspace / path).is_file()
            and not bare.in_tests_root(path)
        }
        trace = sorted(found)
    return Scope(
        workspace=workspace,
        tests_root=tests_root,
        changed=changed,
        trace=trace,
        seams=list(context.seams),
    )
