"""What an application writes as it runs is not a test's side effect; what a test writes is.

The subject is a small app whose factory makes a git-ignored `instance/` folder (as Flask's does)
and whose existing tests make it too. Its own tests, checked in place, are accepted; a test that
writes into the ignored folder by name, into a tracked file, or into the package is not.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.quality import Judge
from agent.sandbox import Sandbox
from agent.schema import Reason

from .conftest import proposed, quiet_settings, verdicts
from .ledger import git, write

APP = {
    "pyproject.toml": """
        [project]
        name = "shelf"
        version = "0.1.0"

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        pythonpath = ["."]
    """,
    ".gitignore": "__pycache__/\ninstance/\nlogs/\ncache/\n",
    "shelf/__init__.py": '''
        """A shelf of books kept in the app's instance folder."""

        import json
        from pathlib import Path

        ROOT = Path(__file__).resolve().parent.parent


        class App:
            def __init__(self, instance):
                self.instance = instance

            def add(self, title):
                books = self.books()
                books.append(title)
                (self.instance / "books.json").write_text(json.dumps(books))

            def books(self):
                path = self.instance / "books.json"
                return json.loads(path.read_text()) if path.exists() else []

            def log(self, line):
                folder = ROOT / "logs"
                folder.mkdir(exist_ok=True)
                with (folder / "shelf.log").open("a") as handle:
                    handle.write(line + "\\n")

            def warm_cache(self):
                folder = ROOT / "shelf" / "cache"
                folder.mkdir(exist_ok=True)
                (folder / "books.json").write_text(json.dumps(self.books()))


        def create_app():
            instance = ROOT / "instance"
            instance.mkdir(exist_ok=True)
            return App(instance)
    ''',
    "tests/test_shelf.py": """
        from shelf import create_app


        def test_a_book_added_is_on_the_shelf():
            app = create_app()
            app.add("Dune")
            assert "Dune" in app.books()
    """,
    "README.md": "shelf\n",
}

OWN_LOG = """
from shelf import create_app


def test_a_logged_line_is_kept():
    app = create_app()
    app.log("opened")
    assert app.books() is not None
"""

NAMES_THE_FOLDER = """
from pathlib import Path

import shelf


def test_writes_into_the_instance_folder_itself():
    shelf.create_app()
    target = Path(shelf.__file__).resolve().parent.parent / "instance" / "notes.txt"
    target.write_text("mine")
    assert target.read_text() == "mine"
"""

TRACKED = """
from pathlib import Path

import shelf


def test_rewrites_the_readme():
    readme = Path(shelf.__file__).resolve().parent.parent / "README.md"
    readme.write_text("changed")
    assert readme.read_text() == "changed"
"""

INTO_THE_PACKAGE = """
from shelf import create_app


def test_cache_is_warmed():
    app = create_app()
    app.warm_cache()
    assert app.books() == app.books()
"""


@pytest.fixture(scope="module")
def app_judge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Judge]:
    repo = tmp_path_factory.mktemp("apps") / "shelf"
    repo.mkdir()
    write(repo, APP)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shelf")
    settings = quiet_settings(repo)
    with Sandbox(repo, Path(sys.executable), settings.sandbox) as box:
        yield Judge(box, settings, existing_ok=True)
    assert not (repo / "instance").exists() and not (repo / "logs").exists()


def test_the_apps_own_test_checked_in_place_is_accepted(app_judge: Judge) -> None:
    path = "tests/test_shelf.py"
    content = (app_judge.repo / path).read_text(encoding="utf-8")
    (verdict,) = verdicts(app_judge.check([proposed(path, content)]), path).values()
    assert verdict.verdict == "accepted", verdict


def test_an_ignored_folder_the_app_makes_is_not_the_tests_side_effect(app_judge: Judge) -> None:
    path = "tests/test_shelf_log.py"
    (verdict,) = verdicts(app_judge.check([proposed(path, OWN_LOG)]), path).values()
    assert verdict.verdict == "accepted", verdict


@pytest.mark.parametrize(
    ("content", "written"),
    [
        (NAMES_THE_FOLDER, "instance/notes.txt"),
        (TRACKED, "README.md"),
        (INTO_THE_PACKAGE, "shelf/cache/"),
    ],
    ids=["named-ignored-folder", "tracked-file", "package"],
)
def test_writes_of_the_test_itself_are_side_effects(
    app_judge: Judge, content: str, written: str
) -> None:
    path = "tests/test_shelf_writes.py"
    (verdict,) = verdicts(app_judge.check([proposed(path, content)]), path).values()
    assert verdict.reason == Reason.SIDE_EFFECT, verdict
    assert written in verdict.detail


SKIPS = """
import pytest

from shelf import create_app


def test_runs():
    assert create_app().books() == []


def test_needs_a_missing_module():
    pytest.importorskip("no_such_module_here")
    assert create_app().books() == ["never"]
"""


def test_a_test_that_always_skips_is_not_kept(app_judge: Judge) -> None:
    path = "tests/test_shelf_skips.py"
    found = verdicts(app_judge.check([proposed(path, SKIPS)]), path)
    skipped = found["test_needs_a_missing_module"]
    assert skipped.verdict == "rejected" and skipped.reason == Reason.NO_TESTS, skipped
    assert "skipped" in skipped.detail and "no_such_module_here" in skipped.detail
    assert found["test_runs"].verdict == "accepted", found["test_runs"]
