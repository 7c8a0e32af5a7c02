"""Coverage decides what a test exercises: a seam is credited for the lines a test executed, not
for names in its source. Running some other program in a subprocess earns nothing; running the
project's own module in one counts by the lines the child process ran."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.config import load_settings
from agent.context import build_context
from agent.quality import Judge
from agent.sandbox import Sandbox
from agent.schema import ProposedFile, Reason
from tests.context.helpers import commit_all, make_repo, write_files

from .conftest import verdicts

TOOL = {
    "pyproject.toml": """
        [project]
        name = "tool"
        version = "0.1"

        [project.scripts]
        tool = "tool.cli:main"

        [tool.pytest.ini_options]
        testpaths = ["tests"]
    """,
    "tool/__init__.py": "",
    "tool/cli.py": """
        import sys


        def main(argv=None):
            args = sys.argv[1:] if argv is None else argv
            print("hello " + " ".join(args))
            return 0


        if __name__ == "__main__":
            raise SystemExit(main())
    """,
    "tests/__init__.py": "",
    "tests/test_smoke.py": "def test_nothing():\n    assert True\n",
}

OTHER_PROGRAM = """
import subprocess
import sys

import tool.cli


def test_runs_python():
    assert tool.cli.main
    done = subprocess.run([sys.executable, "-c", "print('x')"], capture_output=True, text=True)
    assert done.stdout == "x\\n"
"""

IN_PROCESS = """
from tool.cli import main


def test_main_greets(capsys):
    assert main(["ann"]) == 0
    assert capsys.readouterr().out == "hello, ann\\n"
"""

OWN_MODULE = """
import subprocess
import sys


def test_module_greets():
    done = subprocess.run(
        [sys.executable, "-m", "tool.cli", "ann"], capture_output=True, text=True
    )
    assert done.stdout == "hello, ann\\n"
"""


def test_a_subprocess_of_another_program_is_not_credited_with_the_cli_seam(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "tool", TOOL)
    root = Path(repo.working_tree_dir)
    base = repo.head.commit.hexsha
    cli = (root / "tool/cli.py").read_text()
    write_files(root, {"tool/cli.py": cli.replace('"hello " + " "', '"hello, " + ", "')})
    commit_all(repo, "greet with a comma")
    context = build_context(root, base=base)
    cli_seams = [s.id for s in context.seams if s.kind == "cli_entry"]
    assert cli_seams, context.seams

    settings = load_settings(root, sandbox={"test_timeout": 10.0})
    with Sandbox(root, Path(sys.executable), settings.sandbox) as box:
        judge = Judge(box, settings, context=context)
        result = judge.check(
            [
                ProposedFile(path="tests/test_other_program.py", content=OTHER_PROGRAM),
                ProposedFile(path="tests/test_in_process.py", content=IN_PROCESS),
                ProposedFile(path="tests/test_own_module.py", content=OWN_MODULE),
            ]
        )

    (other,) = verdicts(result, "tests/test_other_program.py").values()
    assert other.reason == Reason.MISSES_CHANGE, other
    assert other.seams == []
    (in_process,) = verdicts(result, "tests/test_in_process.py").values()
    assert in_process.reason != Reason.MISSES_CHANGE, in_process
    assert in_process.changed_lines_covered and set(cli_seams) & set(in_process.seams)
    (own,) = verdicts(result, "tests/test_own_module.py").values()
    assert own.reason != Reason.MISSES_CHANGE, own
    assert set(cli_seams) & set(own.seams)
