"""The base run: every kept test runs once more on the base revision's code, in a real git
repository, the real sandbox and real pytest. A test that fails there detects the change; one
that passes there only guards; one that fails on the change but passes there shows what the
change broke."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_settings
from agent.context import build_context
from agent.demo.shop import ShopRepo, deterministic_git_env
from agent.quality import Judge
from agent.sandbox import Sandbox
from agent.schema import CheckResult, ProposedFile, Reason
from agent.schema import TestVerdict as Verdict

from .conftest import verdicts

PYTHON = Path(sys.executable)
SHOP_INTEGRATION = "tests/integration/test_order_placement.py"

BASE = {
    "pyproject.toml": """
        [project]
        name = "calc"
        version = "0.1.0"

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        pythonpath = ["."]
    """,
    ".gitignore": "__pycache__/\n",
    "calc/__init__.py": "",
    "calc/ops.py": """
        def add(a, b):
            return a + b


        def sub(a, b):
            return a - b


        def scale(x):
            return x * 2
    """,
    "calc/old.py": """
        def legacy():
            return "old"
    """,
    "calc/legacy.py": """
        def name():
            return "legacy"


        def shout(text):
            return text.upper()
    """,
    "tests/__init__.py": "",
    "calc/util.py": """
        def ident(x):
            return x
    """,
    "tests/test_util.py": """
        from calc.util import ident


        def test_ident():
            assert ident(1) == 1
    """,
}

# The change: `add` rounds, `sub` is broken, calc/fresh.py is new, calc/old.py is deleted and
# calc/legacy.py is renamed to calc/renamed.py (its content changed a little on the way).
CHANGED = {
    "calc/ops.py": """
        def add(a, b):
            return round(a + b, 2)


        def sub(a, b):
            return a + b


        def scale(x):
            return x * 2
    """,
    "calc/fresh.py": """
        def greet(name):
            return f"hello {name}"
    """,
    "calc/renamed.py": """
        def name():
            return "renamed"


        def shout(text):
            return text.upper()
    """,
}
DELETED = ["calc/old.py", "calc/legacy.py"]

TESTS = """
    import importlib

    import pytest

    from calc.ops import add, sub


    def test_add_rounds_to_cents():
        assert add(0.1, 0.2) == 0.3


    def test_add_whole_numbers():
        assert add(1, 2) == 3


    def test_add_zero_weakly():
        assert add(2, 0) in (2, None)  # weak on purpose: every mutant of `add` survives it


    def test_sub_subtracts():
        assert sub(3, 1) == 2


    def test_old_module_is_gone():
        assert add(0.5, 0.25) == 0.75
        with pytest.raises(ImportError):
            importlib.import_module("calc.old")
"""
FRESH_TESTS = """
    from calc.fresh import greet


    def test_greets_by_name():
        assert greet("ada") == "hello ada"
"""
RENAMED_TESTS = """
    from calc.renamed import name


    def test_renamed_module_names_itself():
        assert name() == "renamed"
"""


def _write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def _git(repo: Path, *args: str) -> str:
    env = deterministic_git_env("2026-01-01T00:00:00+00:00")
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def build_calc(repo: Path, *, commit_change: bool) -> str:
    """The calc repository at its base commit plus the change, committed or left in the tree;
    returns the base sha."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, BASE)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    _git(repo, "mv", "calc/legacy.py", "calc/renamed.py")
    _git(repo, "rm", "-q", "calc/old.py")
    _write(repo, CHANGED)
    if commit_change:
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "change")
    return base


def _check(repo: Path, base: str | None, files: list[ProposedFile], **settings: Any) -> CheckResult:
    settings.setdefault("mutation", False)
    loaded = load_settings(repo, sandbox={"test_timeout": 5.0}, **settings)
    context = build_context(repo, base=base) if base else None
    with Sandbox(repo, PYTHON, loaded.sandbox) as box:
        return Judge(box, loaded, context=context).check(files)


def _proposals() -> list[ProposedFile]:
    return [
        ProposedFile(path="tests/test_calc_change.py", content=textwrap.dedent(TESTS)),
        ProposedFile(path="tests/test_fresh.py", content=textwrap.dedent(FRESH_TESTS)),
        ProposedFile(path="tests/test_renamed.py", content=textwrap.dedent(RENAMED_TESTS)),
    ]


def _all(result: CheckResult) -> dict[str, Verdict]:
    out: dict[str, Verdict] = {}
    for f in result.files:
        out.update(verdicts(result, f.path))
    return out


@pytest.mark.parametrize("commit_change", [True, False], ids=["committed", "uncommitted"])
def test_base_run_tells_detectors_guards_and_regressions_apart(
    tmp_path: Path, commit_change: bool
) -> None:
    repo = tmp_path / "calc"
    base = build_calc(repo, commit_change=commit_change)
    before = _git(repo, "status", "--porcelain")
    result = _check(repo, base, _proposals())
    tests = _all(result)

    rounds = tests["test_add_rounds_to_cents"]
    assert rounds.verdict == "accepted", rounds
    assert (rounds.on_base, rounds.detects_change) == ("failed", True)
    assert "assertion" in rounds.base_detail

    guard = tests["test_add_whole_numbers"]
    assert guard.verdict == "accepted"
    assert (guard.on_base, guard.detects_change) == ("passed", False)
    assert "guards" in guard.base_detail

    # the change broke `sub`: rejected here, and the base run says it passed before
    broken = tests["test_sub_subtracts"]
    assert broken.verdict == "rejected" and broken.reason == Reason.FAILS
    assert broken.on_base == "passed" and broken.breaks_on_change
    assert broken.detects_change is None
    assert "the change broke this behaviour" in broken.base_detail

    # a deleted file is back on the base
    gone = tests["test_old_module_is_gone"]
    assert (gone.on_base, gone.detects_change) == ("failed", True)

    # a module the change adds does not exist on the base: an ImportError of a changed module
    fresh = tests["test_greets_by_name"]
    assert fresh.verdict == "accepted"
    assert (fresh.on_base, fresh.detects_change) == ("error", True)
    assert "calc.fresh" in fresh.base_detail

    # a renamed file: the new name is missing on the base, the old one is back
    renamed = tests["test_renamed_module_names_itself"]
    assert (renamed.on_base, renamed.detects_change) == ("error", True), renamed
    assert "base" in result.gate_seconds

    # the user's tree and git state are untouched
    assert _git(repo, "status", "--porcelain") == before


def test_base_run_keeps_the_renamed_files_old_name(tmp_path: Path) -> None:
    """On the base the old name of a renamed file imports again."""
    repo = tmp_path / "calc"
    base = build_calc(repo, commit_change=True)
    probe = """
        import importlib

        from calc.ops import add


        def test_old_name_is_gone():
            assert add(2, 2) == 4
            try:
                importlib.import_module("calc.legacy")
            except ImportError:
                return
            raise AssertionError("calc.legacy still imports")
    """
    result = _check(
        repo, base, [ProposedFile(path="tests/test_probe.py", content=textwrap.dedent(probe))]
    )
    (test,) = _all(result).values()
    assert test.verdict == "accepted"
    assert (test.on_base, test.detects_change) == ("failed", True)


def test_without_a_base_the_fields_are_null(tmp_path: Path) -> None:
    repo = tmp_path / "calc"
    build_calc(repo, commit_change=True)
    result = _check(repo, None, _proposals()[:1])
    tests = _all(result)
    assert tests["test_add_whole_numbers"].verdict == "accepted"
    for test in tests.values():
        assert test.on_base == "not_applicable" and test.detects_change is None


def test_optional_gates(tmp_path: Path) -> None:
    repo = tmp_path / "calc"
    base = build_calc(repo, commit_change=True)
    proposal = _proposals()[:1]

    off = _all(_check(repo, base, proposal))
    assert off["test_add_whole_numbers"].verdict == "accepted"  # default: guards are kept

    gated = _all(_check(repo, base, proposal, require=["detects_change"]))
    guard = gated["test_add_whole_numbers"]
    assert (guard.verdict, guard.reason) == ("rejected", Reason.GUARDS_ONLY)
    assert gated["test_add_rounds_to_cents"].verdict == "accepted"

    mutants = _all(_check(repo, base, proposal, require=["kills_mutants"], mutation=True))
    rounds = mutants["test_add_rounds_to_cents"]
    assert rounds.verdict == "accepted", rounds
    assert rounds.change_mutants and rounds.change_mutants_killed
    assert rounds.change_mutants_killed <= rounds.change_mutants
    assert mutants["test_add_whole_numbers"].verdict == "accepted"  # a guard that kills mutants
    weak = mutants["test_add_zero_weakly"]
    assert (weak.verdict, weak.reason) == ("rejected", Reason.KILLS_NO_MUTANT), weak
    assert weak.change_mutants_killed == 0


def test_unknown_requirement_is_a_config_error(tmp_path: Path) -> None:
    from agent.config import ConfigError

    with pytest.raises(ConfigError, match="require"):
        load_settings(tmp_path, require=["fast"])


def test_shop_change_is_detected_and_timed(shop: ShopRepo) -> None:
    """The example shop: its own order test guards (orders without a code price as before); a
    test of the discount codes the change adds fails on the base on its assertion."""
    original = (shop.path / SHOP_INTEGRATION).read_text(encoding="utf-8")
    discounted = original.replace(
        '"quantity": 2}]}', '"quantity": 2}], "discount_code": "save10"}'
    ).replace('"50.00"', '"45.00"')
    assert discounted != original
    loaded = load_settings(shop.path)
    context = build_context(shop.path, base=shop.base)
    with Sandbox(shop.path, PYTHON, loaded.sandbox) as box:
        judge = Judge(box, loaded, context=context, existing_ok=True)  # as `itarch check` does
        result = judge.check(
            [
                ProposedFile(path=SHOP_INTEGRATION, content=original),
                ProposedFile(path="tests/integration/test_discounted.py", content=discounted),
            ]
        )
    (guard,) = verdicts(result, SHOP_INTEGRATION).values()
    assert guard.verdict == "accepted", guard
    assert (guard.on_base, guard.detects_change) == ("passed", False), guard.base_detail
    assert guard.change_mutants and guard.change_mutants_killed
    (detector,) = verdicts(result, "tests/integration/test_discounted.py").values()
    assert detector.verdict == "accepted", detector
    assert (detector.on_base, detector.detects_change) == ("failed", True)
    assert "'50.00' == '45.00'" in detector.base_detail
    assert result.gate_seconds["base"] > 0


def test_a_call_the_base_signature_refuses_detects_the_change() -> None:
    from agent.quality.base_run import _missing_change

    refused = "Table.__init__() got an unexpected keyword argument 'persist_empty'"
    assert _missing_change("TypeError", refused, "", {"tinydb.table"})
    assert not _missing_change("TypeError", "unsupported operand type(s) for +", "", set())
    assert not _missing_change("ValueError", refused, "", {"tinydb.table"})
