"""The real projects the compat suite runs `itarch check` in, each set up as its users set it up.

A project is one or more PyPI sdists (pinned version and sha256) unpacked into a git repository
(committed as published, with the repository's `.gitignore` where the sdist does not ship one),
an optional second commit with the configuration a user adds, and a virtual environment *inside*
the repository made with `python -m venv` (or laid out the way uv lays one out), holding the
project installed editable and its pinned test dependencies. `shapes` says which of the set-ups
itarch has to cope with each project covers; `SHAPES` lists every one the suite must cover.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Shape = Literal[
    "venv-ignored",  # the in-repo venv is git-ignored
    "venv-not-ignored",  # the in-repo venv shows up as untracked files
    "uv-venv",  # laid out like `uv venv`: no pip, `uv = ...` in pyvenv.cfg, self-ignoring
    "src-layout",
    "tests-in-package",  # e.g. toolz/tests/
    "unittest",  # unittest.TestCase classes
    "custom-python-files",  # a file collected only through the project's `python_files`
    "django",  # pytest-django with the project's test settings
    "asyncio",  # pytest-asyncio
    "anyio",  # the anyio pytest plugin
    "xdist",  # `-n auto` in addopts
    "cov",  # pytest-cov options in addopts
    "exitfirst",  # `-x` or `--maxfail` in addopts
    "strict-markers",
    "plugin-disabled",  # `-p no:...` in addopts
    "last-failed",  # `--lf` in addopts
    "tox-ini-only",  # pytest config only in tox.ini
    "setup-cfg-only",  # pytest config only in setup.cfg
    "pytest-ini-only",
    "pytest-imports-it",  # a package pytest itself imports (iniconfig, pluggy)
    "generated-version",  # a git-ignored `_version.py` written by setuptools-scm or hatch-vcs
    "monorepo",  # two packages side by side, each with its own tests and config
    "odd-path",  # the repository's path has spaces and non-ASCII characters
    "env-var",  # its tests need a variable its users export
]
SHAPES: tuple[str, ...] = get_args(Shape)

PYTEST = "pytest==9.2.0"

# For sdists that ship no `.gitignore`: what a repository of a Python package typically ignores.
PYTHON_GITIGNORE = (
    "__pycache__/",
    "*.py[cod]",
    "*.egg-info/",
    "build/",
    "dist/",
    ".pytest_cache/",
    ".coverage",
    ".coverage.*",
    "coverage.xml",
    "htmlcov/",
    ".tox/",
)


class Sdist(BaseModel):
    """One published package of the project, and where it lives in the repository."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str
    version: str
    sha256: str
    subdir: str = ""  # "" = the repository's root
    # The release tag a clone has, so a version read from git (setuptools-scm, hatch-vcs,
    # setuptools-git-versioning) is the release's and pytest's own pins on it still hold.
    tag: str = ""

    @property
    def sdist_pin(self) -> str:
        return f"{self.project}=={self.version}"


class ConfigEdit(BaseModel):
    """A change to a configuration file: `replace` (once) with `text`, or append `text`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    text: str
    replace: str = ""


class CompatSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    shapes: tuple[Shape, ...]
    packages: tuple[Sdist, ...]
    location: str = "repo"  # the repository's folder, under the project's cache folder
    gitignore: tuple[str, ...] = ()  # written when the sdist ships no `.gitignore` of its own
    edits: tuple[ConfigEdit, ...] = ()
    edits_message: str = ""  # the second commit's message: why a user made these edits
    venv: str = ".venv"
    venv_ignored: bool = True  # checked against git after the venv exists
    uv_style: bool = False
    requirements: tuple[str, ...] = ()  # pinned test dependencies
    check: tuple[str, ...] = Field(description="Test files judged, relative to the repository.")
    env: dict[str, str] = Field(default_factory=dict)  # exported by the project's users
    # Passing tests itarch is right to reject (node id -> reason code), each said why in `notes`:
    # left out of the share, and checked to be rejected for that reason.
    known_rejections: dict[str, str] = Field(default_factory=dict)
    # Node ids an earlier pytest run of the user's left as failed (`.pytest_cache`), written
    # after the plain pytest run and before itarch's: with `--lf` they select what pytest runs.
    last_failed: tuple[str, ...] = ()
    notes: str = ""

    @property
    def pins(self) -> str:
        return ", ".join(p.sdist_pin for p in self.packages)

    def digest(self) -> str:
        """Changes whenever anything that decides the prepared repository or venv changes."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


INICONFIG = CompatSpec(
    name="iniconfig",
    shapes=("pytest-imports-it", "generated-version", "src-layout", "uv-venv", "venv-ignored"),
    packages=(
        Sdist(
            project="iniconfig",
            version="2.3.1",
            sha256="67f4b9c50da0dedf52af349e7749a80a9057a5031199791b906c3bb3ae878960",
            tag="v2.3.1",
        ),
    ),
    # The project is developed with uv (it ships uv.lock); its .gitignore does not name .venv:
    # the venv ignores itself, as uv's do.
    uv_style=True,
    requirements=(PYTEST,),
    check=("testing/test_iniconfig.py",),
    notes="setuptools-scm writes src/iniconfig/_version.py, which .gitignore names",
)

PLUGGY = CompatSpec(
    name="pluggy",
    shapes=(
        "pytest-imports-it",
        "generated-version",
        "src-layout",
        "tox-ini-only",
        "venv-not-ignored",
    ),
    packages=(
        Sdist(
            project="pluggy",
            version="1.7.0",
            sha256="d1eaa46ebb595891b860ab086b4d09c8588af65ebd4361b8e8f4bb8920b90ba8",
            tag="1.7.0",
        ),
    ),
    # Its .gitignore names env/ and lib/ but not venv/: venv/lib is ignored, the rest untracked.
    venv="venv",
    venv_ignored=False,
    requirements=(PYTEST,),
    check=("testing/test_hookcaller.py", "testing/test_multicall.py"),
)

DATEUTIL = CompatSpec(
    name="python-dateutil",
    shapes=("custom-python-files", "xdist", "generated-version", "src-layout", "venv-ignored"),
    packages=(
        Sdist(
            project="python-dateutil",
            version="4.0.0",
            sha256="d7295ff14fdc0f92f662100bfb6c551d160ca090f2939f1ec5b9794265c03f06",
            tag="4.0.0",
        ),
    ),
    edits=(
        ConfigEdit(
            path="pyproject.toml",
            replace="xfail_strict = true\n",
            text='xfail_strict = true\naddopts = "-n auto --dist worksteal"\n',
        ),
    ),
    # tox.ini sets PYTEST_ADDOPTS=-n auto --dist worksteal; a developer keeps it in the config.
    edits_message="Run the tests on every core, as tox does (-n auto --dist worksteal)",
    # requirements-dev.txt, less the build and coverage tools
    requirements=(
        PYTEST,
        "pytest-cov==7.1.0",
        "pytest-xdist==3.8.0",
        "hypothesis==6.170.17",
        "freezegun==1.5.5",
        "attrs==26.1.0",
    ),
    # The exercise solution is collected through python_files = ["*_solution.py", ...].
    check=("tests/test_easter.py", "docs/exercises/solutions/mlk_day_rrule_solution.py"),
    notes="hatch-vcs writes src/dateutil/_version.py, which .gitignore names",
)

CACHETOOLS = CompatSpec(
    name="cachetools",
    shapes=("unittest", "odd-path", "src-layout", "venv-ignored"),
    packages=(
        Sdist(
            project="cachetools",
            version="8.0.2",
            sha256="30ac523adfc118b51d2b2e7bad8a0ddb31370dfe2700c7f10ca224f36ccf81e0",
        ),
    ),
    location="my projects/café-cachetools",
    gitignore=(*PYTHON_GITIGNORE, ".venv/"),
    requirements=(PYTEST,),
    # unittest.TestCase classes with mixins from the tests package's __init__.py
    check=("tests/test_lru.py", "tests/test_ttl.py"),
    notes="no pytest configuration (tox.ini only has its commands)",
)

TINYDB = CompatSpec(
    name="tinydb",
    shapes=("cov", "pytest-ini-only", "venv-not-ignored"),
    packages=(
        Sdist(
            project="tinydb",
            version="4.9.0",
            sha256="6928b1fa785186bda7952a0ba05aaeedc883ede565ca9c7d608de44e5e75de70",
        ),
    ),
    # The repository's pytest.ini, which the sdist does not ship.
    edits=(
        ConfigEdit(
            path="pytest.ini",
            text="[pytest]\naddopts=--verbose --cov-append --cov-report term --cov tinydb\n",
        ),
    ),
    edits_message="pytest.ini as the repository has it (the sdist does not ship it)",
    # Its .gitignore names bin and lib (so .venv/bin and .venv/lib) but not .venv itself.
    venv_ignored=False,
    requirements=(PYTEST, "pytest-cov==7.1.0", "pyyaml==6.0.4"),
    check=("tests/test_queries.py", "tests/test_storages.py"),
)

ITSDANGEROUS = CompatSpec(
    name="itsdangerous",
    shapes=("exitfirst", "src-layout", "venv-ignored"),
    packages=(
        Sdist(
            project="itsdangerous",
            version="2.2.0",
            sha256="e0050c0b7da1eea53ffaf149c0cfbb5c6e2e2b69c4bef22c81fa6eb73e5f6173",
        ),
    ),
    gitignore=(*PYTHON_GITIGNORE, ".venv/"),
    edits=(
        ConfigEdit(
            path="pyproject.toml",
            replace='testpaths = ["tests"]\n',
            text='testpaths = ["tests"]\naddopts = "-x"\n',
        ),
    ),
    edits_message="Stop at the first failing test (-x)",
    requirements=(PYTEST, "freezegun==1.5.5"),
    check=(
        "tests/test_itsdangerous/test_serializer.py",
        "tests/test_itsdangerous/test_timed.py",
    ),
)

CLICK = CompatSpec(
    name="click",
    shapes=("plugin-disabled", "exitfirst", "src-layout", "venv-ignored"),
    packages=(
        Sdist(
            project="click",
            version="8.5.1",
            sha256="9bbfada76703fd1d784b83eea012e3e8c6a001a876543ef104fa56aaaeb072b4",
        ),
    ),
    gitignore=(*PYTHON_GITIGNORE, ".venv/"),
    edits=(
        ConfigEdit(
            path="pyproject.toml",
            replace="addopts = \"-m 'not stress'\"",
            text="addopts = \"-m 'not stress' -p no:randomly --maxfail=5\"",
        ),
    ),
    # pytest-randomly comes with the project's tests-random group; day to day it is switched off.
    edits_message="Keep the test order fixed (-p no:randomly) and stop after five failures",
    requirements=(PYTEST, "pytest-randomly==5.1.0"),
    check=("tests/test_commands.py", "tests/test_chain.py"),
)

JANUS = CompatSpec(
    name="janus",
    shapes=("asyncio", "cov", "setup-cfg-only", "venv-ignored"),
    packages=(
        Sdist(
            project="janus",
            version="2.0.0",
            sha256="0970f38e0e725400496c834a368a67ee551dc3b5ad0a257e132f5b46f2e77770",
        ),
    ),
    gitignore=(*PYTHON_GITIGNORE, ".venv/"),
    requirements=(PYTEST, "pytest-asyncio==1.5.0", "pytest-cov==7.1.0"),
    check=("tests/test_mixed.py",),
    # These assert nothing: each only awaits join() or close() and passes if that returns.
    known_rejections={
        f"tests/test_mixed.py::TestMixedMode::{name}": "no_assertions"
        for name in (
            "test_sync_put_async_join",
            "test_double_closing",
            "test_async_join_after_closing",
            "test_close_after_async_join",
            "test_sync_join_after_closing",
            "test_close_after_sync_join",
        )
    },
    notes="setup.cfg: addopts = --cov-branch --cov-report xml, asyncio_mode = strict; six "
    "tests assert nothing (they pass when join()/close() return), rejected as no_assertions",
)

HTTPCORE = CompatSpec(
    name="httpcore",
    shapes=("anyio", "strict-markers", "venv-ignored"),
    packages=(
        Sdist(
            project="httpcore",
            version="1.0.9",
            sha256="6e34463af53fd2ab5d807f399a9b45ea31c3dfa2276f15a2c3f00afff6e176e8",
        ),
    ),
    venv="venv",  # its .gitignore names venv*/
    # the extras its tests import (http2, socks, trio), anyio and pytest-trio for their plugins
    requirements=(
        PYTEST,
        "anyio==4.16.0",
        "trio==0.35.0",
        "pytest-trio==0.8.0",
        "h2==4.4.1",
        "socksio==1.0.0",
    ),
    check=("tests/_async/test_connection_pool.py",),
)

DJANGO_MODEL_UTILS = CompatSpec(
    name="django-model-utils",
    shapes=("django", "setup-cfg-only", "env-var", "venv-ignored"),
    packages=(
        Sdist(
            project="django-model-utils",
            version="5.0.0",
            sha256="041cdd6230d2fbf6cd943e1969318bce762272077f4ecd333ab2263924b4e5eb",
        ),
    ),
    requirements=(PYTEST, "pytest-django==4.14.0", "django==5.1.15", "time-machine==3.6.0"),
    check=("tests/test_models/test_timestamped_model.py", "tests/test_fields/test_status_field.py"),
    # tests/settings.py uses PostgreSQL unless SQLITE is set (its tox.ini sets it for mypy).
    env={"SQLITE": "1"},
    # What itarch's first run says to do: "the code reads SQLITE, set here but not passed to
    # tests: ... add `pass_env = ["SQLITE"]` under [tool.itarch.sandbox]".
    edits=(
        ConfigEdit(path="pyproject.toml", text='\n[tool.itarch.sandbox]\npass_env = ["SQLITE"]\n'),
    ),
    edits_message="Pass SQLITE to itarch's sandbox, as its error message says",
    # Constructing a model or a field is the whole test: nothing is asserted.
    known_rejections={
        "tests/test_fields/test_status_field.py::StatusFieldTests::test_choices_name": (
            "no_assertions"
        ),
        "tests/test_fields/test_status_field.py::StatusFieldTests::test_no_check_for_status": (
            "no_assertions"
        ),
    },
    notes="two tests only construct a model or a field and assert nothing: no_assertions",
)

DJANGO_SOLO = CompatSpec(
    name="django-solo",
    shapes=("django", "tests-in-package", "custom-python-files", "unittest", "venv-ignored"),
    packages=(
        Sdist(
            project="django-solo",
            version="2.5.1",
            sha256="ca3b2e44dbb4726446941ca8d765c247123f709f051d07e62eacf97330ffde01",
        ),
    ),
    gitignore=(*PYTHON_GITIGNORE, ".venv/", "*.db"),
    # The project runs its tests with Django's runner; a pytest user adds pytest-django's config.
    edits=(
        ConfigEdit(
            path="pyproject.toml",
            text=(
                "\n[tool.pytest.ini_options]\n"
                'DJANGO_SETTINGS_MODULE = "solo.tests.settings"\n'
                'python_files = ["tests.py", "test_*.py"]\n'
            ),
        ),
    ),
    edits_message="Run the tests with pytest-django (settings, and tests.py as test files)",
    requirements=(PYTEST, "pytest-django==4.14.0", "django==5.2.19"),
    # django.test.TestCase classes in solo/tests/tests.py, collected through python_files
    check=("solo/tests/tests.py",),
    known_rejections={
        f"solo/tests/tests.py::SingletonTest::{name}": "side_effect"
        for name in (
            "test_delete_if_cache_disabled",
            "test_delete_if_cache_enabled",
            "test_file_upload_if_cache_enabled",
            "test_template_tag_renders_default_site_config",
            "test_template_tag_renders_site_config",
        )
    },
    notes="five tests save the model's default FileField upload into files/ in the repository "
    "(no MEDIA_ROOT in the test settings): itarch is right to reject them as side effects",
)

TOOLZ = CompatSpec(
    name="toolz",
    shapes=("tests-in-package", "strict-markers", "last-failed", "venv-ignored"),
    packages=(
        Sdist(
            project="toolz",
            version="1.2.0",
            sha256="9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490",
            tag="1.2.0",
        ),
    ),
    gitignore=(*PYTHON_GITIGNORE, ".venv/"),
    edits=(
        ConfigEdit(
            path="pyproject.toml",
            replace='  "-ra",              # Print summary of all fails/errors\n',
            text='  "-ra",              # Print summary of all fails/errors\n  "--lf",\n',
        ),
    ),
    edits_message="Rerun the last failures first (--lf)",
    requirements=(PYTEST,),
    check=("toolz/tests/test_itertoolz.py", "toolz/tests/test_dicttoolz.py"),
    last_failed=("toolz/tests/test_itertoolz.py::test_groupby",),
    notes="setuptools-git-versioning reads the version from the tag",
)

MONOREPO = CompatSpec(
    name="monorepo",
    shapes=("monorepo", "asyncio", "setup-cfg-only", "venv-ignored"),
    packages=(
        Sdist(
            project="asgiref",
            version="3.13.0",
            sha256="034cc8cbf72d00553b4be256703ac545120b4e50af13b49dec99da899aeeecb4",
            subdir="packages/asgiref",
        ),
        Sdist(
            project="six",
            version="1.17.0",
            sha256="ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
            subdir="packages/six",
        ),
    ),
    gitignore=(*PYTHON_GITIGNORE, ".venv/"),
    requirements=(PYTEST, "pytest-asyncio==1.5.0"),
    check=("packages/asgiref/tests/test_local.py",),
    notes="one venv at the root, both packages editable, each with its own setup.cfg config",
)

COMPAT_TARGETS: dict[str, CompatSpec] = {
    s.name: s
    for s in (
        INICONFIG,
        PLUGGY,
        DATEUTIL,
        CACHETOOLS,
        TINYDB,
        ITSDANGEROUS,
        CLICK,
        JANUS,
        HTTPCORE,
        DJANGO_MODEL_UTILS,
        DJANGO_SOLO,
        TOOLZ,
        MONOREPO,
    )
}


def select_compat(names: list[str] | None) -> list[CompatSpec]:
    """The named projects (all when none are named); an unknown name is the caller's error."""
    if not names:
        return list(COMPAT_TARGETS.values())
    unknown = [n for n in names if n not in COMPAT_TARGETS]
    if unknown:
        raise KeyError(
            f"unknown project(s) {', '.join(unknown)}; known: {', '.join(COMPAT_TARGETS)}"
        )
    return [COMPAT_TARGETS[n] for n in names]
