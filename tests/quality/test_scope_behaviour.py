"""The judge's changed lines are the lines that changed behaviour, never a reformat."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.context import build_context
from agent.quality.scope import scope_of
from tests.sandbox.helpers import git, make_git_repo

BEFORE = (
    "def total(items):\n"
    "    return sum(p * q for p, q in items)\n"
    "\n\n"
    "def label(x):\n"
    "    return str(x)\n"
)
AFTER_REFORMAT = (
    "def total( items ):\n"
    "    # the sum of price times quantity\n"
    "    return sum(p * q\n"
    "               for p, q in items)\n"
    "\n\n"
    "def label(x):\n"
    "    return 'item ' + str(x)\n"
)


def test_reformatted_lines_are_not_changed_lines_and_a_reformat_alone_is_none(
    tmp_path: Path,
) -> None:
    repo = make_git_repo(tmp_path / "shop", {"shopkit/calc.py": BEFORE, "shopkit/fmt.py": BEFORE})
    (repo / "shopkit" / "calc.py").write_text(AFTER_REFORMAT)  # reformat + one real change
    (repo / "shopkit" / "fmt.py").write_text(
        BEFORE.replace("    return str(x)", "    return  str( x )")
    )
    git(repo, "commit", "-qam", "reformat and relabel")
    ctx = build_context(repo, base="HEAD~1", python=sys.executable)
    scope = scope_of(ctx, repo, "tests")
    assert "shopkit/fmt.py" not in scope.changed  # formatting only
    assert scope.changed["shopkit/calc.py"] == {8}  # the label's new return, not total's layout
