"""mark_bugs: tests documenting a defect become strict xfails, by AST position, idempotently."""

from __future__ import annotations

import ast
from pathlib import Path

from agent.quality import mark_bugs
from agent.quality.marks import module_level_marks, strict_xfail_tests

SOURCE = '''"""Checkout tests."""
from __future__ import annotations

from ledger.checkout import checkout


def test_ok():
    assert checkout


@pytest.mark.slow
def test_lowercase_code():
    assert False


class TestRefunds:
    def test_partial(self):
        assert 1 == 2
'''


def _decorators(content: str) -> dict[str, list[str]]:
    tree = ast.parse(content)
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            found[node.name] = [ast.unparse(d) for d in node.decorator_list]
    return found


def test_marks_named_tests_and_imports_pytest_after_future_imports() -> None:
    marked = mark_bugs(SOURCE, {"test_lowercase_code": "codes are case-insensitive"})
    decorators = _decorators(marked)
    assert decorators["test_lowercase_code"] == [
        "pytest.mark.xfail(strict=True, reason='codes are case-insensitive')",
        "pytest.mark.slow",
    ]
    assert decorators["test_ok"] == []
    lines = marked.splitlines()
    assert lines.index("import pytest") == lines.index("from __future__ import annotations") + 1
    assert strict_xfail_tests(ast.parse(marked)) == {
        "test_lowercase_code": "codes are case-insensitive"
    }


def test_marking_is_idempotent_and_keeps_the_rest_byte_for_byte() -> None:
    once = mark_bugs(SOURCE, {"TestRefunds::test_partial": "refunds round down"})
    assert mark_bugs(once, {"TestRefunds::test_partial": "refunds round down"}) == once
    added = [line for line in once.splitlines() if line not in SOURCE.splitlines()]
    assert added == [
        "import pytest",
        "    @pytest.mark.xfail(strict=True, reason='refunds round down')",
    ]


def test_method_can_be_named_with_a_dot_or_a_full_node_id() -> None:
    for name in ("TestRefunds.test_partial", "tests/test_x.py::TestRefunds::test_partial"):
        assert "strict=True" in _decorators(mark_bugs(SOURCE, {name: "why"}))["test_partial"][0]


def test_non_strict_xfail_is_replaced_not_stacked() -> None:
    source = "import pytest\n\n\n@pytest.mark.xfail(reason='flaky?')\ndef test_x():\n    assert 0\n"
    marked = mark_bugs(source, {"test_x": "it's a bug"})
    assert _decorators(marked)["test_x"] == ['pytest.mark.xfail(strict=True, reason="it\'s a bug")']
    assert marked.count("import pytest") == 1


def test_reason_is_one_safe_line() -> None:
    marked = mark_bugs(SOURCE, {"test_ok": 'says "free"\nbut\tcharges'})
    assert _decorators(marked)["test_ok"] == [
        "pytest.mark.xfail(strict=True, reason='says \"free\" but charges')"
    ]


def test_unparseable_content_and_unknown_names_are_left_alone() -> None:
    assert mark_bugs("def test_x(:\n", {"test_x": "why"}) == "def test_x(:\n"
    assert mark_bugs(SOURCE, {"test_missing": "why"}) == SOURCE
    assert mark_bugs(SOURCE, {}) == SOURCE


def test_module_level_marks_are_read() -> None:
    tree = ast.parse(
        "import pytest\npytestmark = [pytest.mark.skip, pytest.mark.xfail(strict=True)]\n"
    )
    assert module_level_marks(tree) == ["skip", "xfail"]


def test_a_proposal_and_the_judge_mark_bugs_the_same_way(tmp_path: Path) -> None:
    from agent.quality.marks import bug_marked
    from agent.tools import proposal_files

    proposal = {
        "files": [
            {
                "path": "tests/test_bug.py",
                "content": "def test_total_is_rounded():\n    assert 1 == 2\n",
                "tests": [{"name": "test_total_is_rounded", "expectation": "bug"}],
            }
        ]
    }
    (marked,) = proposal_files(proposal, tmp_path)
    assert "reason='documents a defect in the current code'" in marked.content
    # The judge marks what it is given the same way, and marking twice changes nothing.
    original = marked.model_copy(update={"content": proposal["files"][0]["content"]})
    assert bug_marked(original) == marked.content == bug_marked(marked)
