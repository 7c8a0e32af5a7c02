"""The PR comment and review suggestions, rendered from a Report (no network)."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from agent.github.api import diff_lines
from agent.github.comment import (
    MARKER,
    MAX_COMMENT_CHARS,
    SUGGESTION_MARKER,
    CommentLinks,
    fence,
    plan_suggestions,
    render_comment,
)
from agent.schema import (
    AcceptedFile,
    FileVerdict,
    IsolationLevel,
    Reason,
    Report,
    Usage,
)
from agent.schema import TestVerdict as Verdict

CHECKOUT = '''\
"""Checkout over HTTP."""


def test_paid_order_is_charged(client):
    response = client.post("/orders/1/pay")
    assert response.status_code == 200
'''

DISCOUNT = """\
import pytest


@pytest.mark.xfail(strict=True, reason="discount taken off twice")
def test_discounted_order_is_charged_its_total(client, gateway):
    client.post("/orders", json={"code": "SAVE10"})
    assert gateway.charged == [62.99]
"""


def make_report(
    accepted: list[AcceptedFile] | None = None, *, model_source: str = "anthropic", **extra: object
) -> Report:
    """A finished run: one file accepted, one kept as a suspected bug, one test rejected."""
    files = accepted or [
        AcceptedFile(path="tests/integration/test_checkout.py", content=CHECKOUT, purpose="pay"),
        AcceptedFile(path="tests/integration/test_discount.py", content=DISCOUNT, purpose="codes"),
    ]
    verdicts = [
        FileVerdict(
            path=files[0].path,
            mutation_score=0.8,
            tests=[
                Verdict(
                    nodeid=f"{files[0].path}::test_paid_order_is_charged",
                    verdict="accepted",
                    seams=["http_route:shop/api.py:40", "database:shop/db.py:12"],
                )
            ],
        ),
        FileVerdict(
            path="tests/integration/test_flaky.py",
            tests=[
                Verdict(
                    nodeid="tests/integration/test_flaky.py::test_sometimes",
                    verdict="rejected",
                    reason=Reason.FLAKY,
                    detail="passed 3 of 5 shuffled reruns",
                    seams=["event:shop/events.py:9"],
                )
            ],
        ),
    ]
    if len(files) > 1:
        verdicts.append(
            FileVerdict(
                path=files[1].path,
                mutation_score=0.5,
                tests=[
                    Verdict(
                        nodeid=f"{files[1].path}::test_discounted_order_is_charged_its_total",
                        verdict="bug",
                        detail="PaymentService.pay subtracts the discount a second time",
                        feedback="AssertionError: assert [55.99] == [62.99]",
                        seams=["import:shop/payments.py:3", "http_route:shop/api.py:40"],
                    )
                ],
            )
        )
    fields: dict[str, object] = {
        "run_id": "20240201-abcdef",
        "repo": "/work/shop",
        "base": "a" * 40,
        "model": "claude-sonnet-test",
        "model_source": model_source,
        "isolation": IsolationLevel.BWRAP,
        "iterations": 3,
        "stopped_by": "finish",
        "accepted": files,
        "verdicts": verdicts,
        "usage": Usage(input_tokens=12_000, output_tokens=3_456),
        "cost_usd": Decimal("0.0877"),
        "wall_seconds": 95.4,
    }
    fields.update(extra)
    return Report.model_validate(fields)


LINKS = CommentLinks(
    base="a" * 40, head="b" * 40, run_url="https://github.example/octo/shop/actions/runs/42"
)


def table(comment: str) -> dict[str, str]:
    """The summary table's rows, name -> value."""
    rows = re.findall(r"^\| ([^|]+?) \| (.+?) \|$", comment, re.M)
    return {name: value for name, value in rows if name.strip()}


def test_comment_summarises_the_report() -> None:
    report = make_report()
    comment = render_comment(report, LINKS)
    rows = table(comment)

    assert comment.startswith(MARKER)
    assert rows["Accepted test files"] == str(len(report.accepted))
    assert rows["Suspected bugs"] == str(len(report.bugs))
    assert rows["Rejected tests"] == str(len(report.rejected))
    # Seams of accepted and bug tests, each once; the rejected test's seam does not count.
    assert rows["Seams covered"].startswith("3 (")
    assert "event:shop/events.py:9" not in rows["Seams covered"]
    assert rows["Mutation score on the change"] == "50%–80% across 2 files"
    assert rows["Cost"].startswith(f"${report.cost_usd:.4f}")
    assert f"{report.usage.total:,} tokens" in rows["Cost"]


def test_each_accepted_file_is_a_collapsed_block_with_its_source() -> None:
    report = make_report()
    comment = render_comment(report, LINKS)
    blocks = re.findall(
        r"<details>\n<summary><code>(.+?)</code>.*?</summary>\n\n(.*?)\n\n</details>", comment, re.S
    )
    assert [path for path, _ in blocks] == [a.path for a in report.accepted]
    for (_, block), accepted in zip(blocks, report.accepted, strict=True):
        assert block == fence(accepted.content, "python")


def test_suspected_bugs_show_the_failing_assertion() -> None:
    report = make_report()
    comment = render_comment(report, LINKS)
    bug = report.bugs[0]
    section = comment.split("### Suspected bugs", 1)[1].split("###", 1)[0]
    assert bug.nodeid in section
    assert bug.detail in section
    assert bug.feedback in section


def test_how_to_apply_points_at_the_artifact_and_the_local_command() -> None:
    comment = render_comment(make_report(), LINKS)
    apply = comment.split("### How to apply", 1)[1]
    assert f"]({LINKS.run_url})" in apply
    assert f"`git apply {LINKS.patch_name}`" in apply
    assert f"`itarch generate --base {LINKS.base}`" in apply


def test_without_a_run_there_is_no_artifact_link() -> None:
    links = CommentLinks(base="c" * 40)
    apply = render_comment(make_report(), links).split("### How to apply", 1)[1]
    assert "artifact" not in apply
    assert f"itarch generate --base {links.base}" in apply


def test_scripted_runs_and_unisolated_sandboxes_are_said_plainly() -> None:
    comment = render_comment(
        make_report(model_source="scripted", isolation=IsolationLevel.PROCESS), LINKS
    )
    assert "**scripted**: these turns were not written by Claude" in comment
    assert "tests were NOT isolated" in comment


def test_over_long_comment_is_cut_to_the_limit_with_a_pointer_to_the_artifact() -> None:
    big = [
        AcceptedFile(
            path=f"tests/integration/test_big_{i}.py",
            content="\n".join(f"def test_{i}_{n}():\n    assert {n} == {n}\n" for n in range(600)),
        )
        for i in range(6)
    ]
    report = make_report(big)
    full = sum(len(a.content) for a in big)
    assert full > MAX_COMMENT_CHARS  # the files alone would not fit

    comment = render_comment(report, LINKS)

    assert len(comment) <= MAX_COMMENT_CHARS
    shown = re.findall(r"<summary><code>(.+?)</code>", comment)
    stubbed = re.findall(r"^- `(.+?)` — not shown here", comment, re.M)
    assert shown and stubbed
    assert sorted(shown + stubbed) == sorted(a.path for a in big)
    assert f"{len(stubbed)} block(s) are not shown" in comment
    assert f"[this run]({LINKS.run_url})" in comment.split("[!NOTE]", 1)[1]
    assert comment.rstrip().endswith("(writes the accepted files into your tree).")
    assert comment.count("```") % 2 == 0  # no code block left open


def test_a_small_limit_still_keeps_marker_summary_and_how_to_apply() -> None:
    limit = len(render_comment(make_report(), LINKS)) // 2
    comment = render_comment(make_report(), LINKS, limit=limit)
    assert len(comment) <= limit
    assert comment.startswith(MARKER)
    assert "### How to apply" in comment
    assert "not shown" in comment


def test_fences_outgrow_backticks_in_the_content() -> None:
    content = 'DOC = """\n```python\nx = 1\n```\n"""\n'
    block = fence(content, "python")
    assert block.startswith("````python\n")
    assert block.endswith("\n````")


# ---------------------------------------------------------------- diff lines and suggestions

PATCH = "\n".join(
    [
        "@@ -3,4 +3,5 @@ import pytest",
        " ",
        "-def old():",
        "+def new():",
        "+    pass",
        " ",
        " x = 1",
        "@@ -20,1 +21,2 @@ def tail():",
        "     return 2",
        "+    # done",
        "\\ No newline at end of file",
    ]
)


def test_diff_lines_are_the_new_side_of_each_hunk() -> None:
    # Hunk 1 starts at new line 3: context 3, added 4 and 5, context 6 and 7.
    # Hunk 2 starts at new line 21: context 21, added 22.
    assert diff_lines(PATCH) == {3, 4, 5, 6, 7, 21, 22}
    assert diff_lines(None) == set()


def _git_file(tmp_path: Path, rel: str, text: str) -> Path:
    target = tmp_path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


HEAD_VERSION = "".join(f"line {n}\n" for n in range(1, 21))


def test_suggestions_only_for_regions_inside_the_diff(tmp_path: Path) -> None:
    rel = "tests/test_orders.py"
    _git_file(tmp_path, rel, HEAD_VERSION)
    lines = HEAD_VERSION.splitlines()
    proposed = list(lines)
    proposed[4] = "line 5 — better"  # line 5: inside the diff
    proposed[14] = "line 15 — better"  # line 15: outside it
    accepted = AcceptedFile(path=rel, content="\n".join(proposed) + "\n")
    in_diff = {3, 4, 5, 6}

    planned = plan_suggestions([accepted], tmp_path, {rel: in_diff})

    assert [(s.path, s.start_line, s.line) for s in planned] == [(rel, None, 5)]
    assert SUGGESTION_MARKER in planned[0].body
    assert "```suggestion\nline 5 — better\n```" in planned[0].body


def test_an_insertion_is_suggested_on_the_line_before_it(tmp_path: Path) -> None:
    rel = "tests/test_orders.py"
    _git_file(tmp_path, rel, HEAD_VERSION)
    lines = HEAD_VERSION.splitlines()
    proposed = [*lines[:6], "def test_added():", "    assert True", *lines[6:]]
    accepted = AcceptedFile(path=rel, content="\n".join(proposed) + "\n")

    planned = plan_suggestions([accepted], tmp_path, {rel: set(range(1, 8))})

    assert [(s.start_line, s.line) for s in planned] == [(None, 6)]
    assert "```suggestion\nline 6\ndef test_added():\n    assert True\n```" in planned[0].body
    # Applying the suggestion to line 6 yields the accepted file exactly.
    applied = [*lines[:5], "line 6", "def test_added():", "    assert True", *lines[6:]]
    assert "\n".join(applied) + "\n" == accepted.content


def test_multi_line_replacements_cover_the_whole_range(tmp_path: Path) -> None:
    rel = "tests/test_orders.py"
    _git_file(tmp_path, rel, HEAD_VERSION)
    lines = HEAD_VERSION.splitlines()
    proposed = [*lines[:9], "merged 10-12", *lines[12:]]
    accepted = AcceptedFile(path=rel, content="\n".join(proposed) + "\n")

    assert plan_suggestions([accepted], tmp_path, {rel: {10, 11}}) == []  # 12 is outside
    planned = plan_suggestions([accepted], tmp_path, {rel: {10, 11, 12}})
    assert [(s.start_line, s.line) for s in planned] == [(10, 12)]


@pytest.mark.parametrize("reason", ["not in the pull request", "not in the checkout"])
def test_files_the_pull_request_does_not_change_get_no_suggestion(
    tmp_path: Path, reason: str
) -> None:
    rel = "tests/test_new.py"
    if reason == "not in the pull request":
        _git_file(tmp_path, rel, HEAD_VERSION)
        diff: dict[str, set[int]] = {"shop/other.py": {1, 2, 3}}
    else:
        diff = {rel: {1, 2, 3}}
    accepted = AcceptedFile(path=rel, content="changed\n" + HEAD_VERSION)
    assert plan_suggestions([accepted], tmp_path, diff) == []


def test_patch_of_a_real_git_diff_matches_the_lines_git_reports(tmp_path: Path) -> None:
    """diff_lines agrees with git itself on which new-file lines a diff shows."""
    repo = tmp_path / "r"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    path = _git_file(repo, "m.py", HEAD_VERSION)
    subprocess.run([*git, "add", "m.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    lines = HEAD_VERSION.splitlines()
    lines[1] = "changed 2"
    lines.insert(15, "inserted")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    diff = subprocess.run([*git, "diff", "-U1"], capture_output=True, text=True, check=True)
    patch = diff.stdout.split("\n@@", 1)[1]
    # The patch GitHub returns starts at the first hunk header.
    got = diff_lines("@@" + patch)
    assert got == {1, 2, 3, 15, 16, 17}


def test_with_nothing_accepted_there_is_nothing_to_apply() -> None:
    report = make_report(message="stopped: the dollars budget ran out", stopped_by="dollars")
    # Only the rejected file is left: the run kept nothing.
    report.accepted = []
    comment = render_comment(report, LINKS)
    rows = table(comment)
    assert rows["Accepted test files"] == "0"
    assert rows["Seams covered"] == "0"  # seams of tests that are not suggested do not count
    assert rows["Stopped by"] == "dollars"
    assert f"No test was accepted. {report.message}" in comment
    assert "How to apply" not in comment


def test_a_reused_run_and_a_trivial_change_say_so() -> None:
    reused = make_report(reused_from="20240101-old", cost_usd=Decimal(0), usage=Usage())
    comment = render_comment(reused, LINKS)
    assert "Reused the tests of run `20240101-old`" in comment and "nothing was paid" in comment
    assert "How to apply" in comment  # the reused tests are suggested as before

    trivial = make_report(
        stopped_by="trivial_change",
        message="nothing to test: the change is only documentation",
        iterations=0,
    )
    trivial.accepted, trivial.verdicts = [], []
    comment = render_comment(trivial, LINKS)
    assert "Nothing to test: the change is only documentation: no model run." in comment
    assert "No test was accepted" not in comment and "How to apply" not in comment
