"""Nothing escapes: every hostile case, at every isolation level, through the real Judge.

The whole matrix runs once per session, by `benchmarks/security_summary.py` itself (so the
summary script is exercised end to end), levels in parallel; each test below reads one cell.
At the `process` level, which isolates nothing, the cases it cannot stop are expected escapes:
they are reported as xfail, and the harness must still see them happen (proof that its
detectors work), never as passes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.sandbox import available_levels
from agent.schema import IsolationLevel

from .cases import CASES, Case
from .harness import ROOT, Report, outer_namespaces_work

SCRIPT = ROOT / "benchmarks" / "security_summary.py"
LEVELS = available_levels()
ISOLATED = [level for level in LEVELS if level != IsolationLevel.PROCESS]

pytestmark = pytest.mark.skipif(
    not outer_namespaces_work(), reason="cannot make namespaces of our own (unshare -rn, ip)"
)


class Matrix:
    def __init__(self, reports: list[Report], stdout: str, returncode: int) -> None:
        self.reports = {(r.case, r.level): r for r in reports}
        self.stdout = stdout
        self.returncode = returncode

    def __getitem__(self, key: tuple[str, str]) -> Report:
        return self.reports[key]


@pytest.fixture(scope="session")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    out = tmp_path_factory.mktemp("security") / "reports.json"
    levels = ",".join(level.value for level in LEVELS)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--levels", levels, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    reports = [Report(**raw) for raw in json.loads(out.read_text(encoding="utf-8"))]
    return Matrix(reports, done.stdout, done.returncode)


def describe(report: Report) -> str:
    return json.dumps(
        {
            "escapes": report.escapes[:5],
            "wrong_verdicts": report.wrong_verdicts,
            "error": report.error[-1500:],
            "verdicts": report.verdicts,
        },
        indent=1,
    )


@pytest.mark.parametrize("level", LEVELS, ids=lambda level: level.value)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hostile_case(matrix: Matrix, case: Case, level: IsolationLevel) -> None:
    report = matrix[(case.name, level.value)]
    if report.status == "skipped":
        pytest.skip(report.note)
    if level == IsolationLevel.PROCESS and case.process != "contained":
        if report.status == "escaped":
            pytest.xfail(f"expected escape at the process level ({case.why_process})")
        assert case.process == "may_escape", (
            "the process level should let this case through: if the harness no longer sees "
            "it, one of its detectors is broken\n" + describe(report)
        )
    assert report.status == "contained", describe(report)
    assert report.wrong_verdicts == [], describe(report)


def test_every_case_is_contained_at_every_isolated_level(matrix: Matrix) -> None:
    assert ISOLATED, "neither bwrap nor unshare works here"
    for level in ISOLATED:
        cells = [matrix[(case.name, level.value)] for case in CASES]
        assert len(cells) == len(CASES)
        assert [r.case for r in cells if r.status != "contained" or r.wrong_verdicts] == []


def test_the_summary_script_prints_the_table_and_passes(matrix: Matrix) -> None:
    lines = matrix.stdout.splitlines()
    header = lines[0].split()
    assert header == ["case", *[level.value for level in LEVELS]]
    rows = {line.split()[0]: line for line in lines[1 : len(CASES) + 1]}
    assert sorted(rows) == sorted(case.name for case in CASES)
    totals = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("tried")}
    tried = [int(n) for n in totals["tried"]]
    skipped = [sum(1 for c in CASES if not c.runs_at(level)) for level in LEVELS]
    assert tried == [len(CASES) - s for s in skipped]
    contained = next(line for line in lines if line.startswith("contained "))
    counts = [int(n) for n in contained.split()[1:]]
    for index, level in enumerate(LEVELS):
        if level in ISOLATED:
            assert counts[index] == len(CASES), matrix.stdout
    assert matrix.returncode == 0, matrix.stdout


def test_the_summary_script_refuses_unknown_cases() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", "no_such_case"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert "no_such_case" in done.stderr


def test_corpus_files_are_all_used() -> None:
    used = {corpus for case in CASES for stage in case.stages for corpus in stage.values()}
    present = {path.name for path in (Path(__file__).parent / "corpus").glob("*.py")}
    assert used == present
