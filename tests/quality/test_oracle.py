"""The AST oracle check: what counts as a test being able to fail."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agent.quality.oracle import conftest_fixture_oracles, oracle_map, oracle_shapes

CHECKS = {
    "test_assert": "def test_assert():\n    assert go() == 1\n",
    "test_raises": "def test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n",
    "test_raises_imported": (
        "from pytest import raises\n\ndef test_raises_imported():\n    with raises(KeyError):\n"
        "        {}['k']\n"
    ),
    "test_warns": "def test_warns():\n    with pytest.warns(UserWarning):\n        go()\n",
    "test_fail": "def test_fail():\n    if go():\n        pytest.fail('went')\n",
    "test_mock": (
        "def test_mock(mocker):\n    m = mocker.Mock()\n    m.assert_called_once_with(1)\n"
    ),
    "test_library": "def test_library():\n    np.testing.assert_allclose(a, b)\n",
    "test_raise_assertion": "def test_raise_assertion():\n    raise AssertionError('no')\n",
    "test_raising_validator": "def test_raising_validator():\n    validate_csrf(make())\n",
    "test_expect_chain": "def test_expect_chain(page):\n    expect(page).to_have_title('x')\n",
    "test_same_call_twice": "def test_same_call_twice():\n    assert token() == token()\n",
    "test_helper": ("def _check(x):\n    assert x > 0\n\ndef test_helper():\n    _check(go())\n"),
    "test_nested_helper": (
        "def _inner(x):\n    assert x\n\ndef _outer(x):\n    _inner(x)\n\n"
        "def test_nested_helper():\n    _outer(1)\n"
    ),
    "test_fixture_asserts": (
        "import pytest\n\n@pytest.fixture\ndef checked():\n    yield 1\n    assert done()\n\n"
        "def test_fixture_asserts(checked):\n    go(checked)\n"
    ),
    "test_helper_raises": (
        "def check(x):\n    if not x:\n        raise ValueError(x)\n\n"
        "def test_helper_raises():\n    check(go())\n"
    ),
    "test_helper_holds_raises": (
        "def refused(v):\n    with pytest.raises(ValueError):\n        parse(v)\n\n"
        "def _both(v):\n    refused(v)\n\n"
        "def test_helper_holds_raises():\n    _both('x')\n"
    ),
    "test_does_not_raise": "def test_does_not_raise():\n    parse('1')\n",
    "test_empty_file_loads": (
        'def test_empty_file_loads():\n    """An empty file loads without errors."""\n'
        "    load('')\n"
    ),
    "test_with_does_not_raise": (
        "def test_with_does_not_raise():\n    with does_not_raise():\n        parse('1')\n"
    ),
    "test_decorated": (
        "def checks_output(func):\n    def wrapper():\n        assert func() == 1\n"
        "    return wrapper\n\n@checks_output\ndef test_decorated():\n    return go()\n"
    ),
    "test_decorator_factory": (
        "def renders(expected):\n    def wrap(func):\n        def run():\n"
        "            assert func() == expected\n        return run\n    return wrap\n\n"
        "@renders('x')\ndef test_decorator_factory():\n    return go()\n"
    ),
}

NO_CHECKS = {
    "test_calls_only": "def test_calls_only():\n    go()\n",
    "test_discarded_bool": "def test_discarded_bool(form):\n    form.validate()\n",
    "test_checkout_is_no_check": "def test_checkout_is_no_check():\n    checkout(cart)\n",
    "test_validator_value_unused": (
        "def test_validator_value_unused():\n    ok = validate_csrf(make())\n"
    ),
    "test_print": "def test_print():\n    print(go())\n",
    "test_helper_without_assert": (
        "def _run():\n    return go()\n\ndef test_helper_without_assert():\n    _run()\n"
    ),
    "test_no_error_but_calls_nothing": "def test_no_error_but_calls_nothing():\n    x = 1\n",
    "test_raise_only_reraised": (
        "def _run():\n    try:\n        go()\n    except OSError:\n        raise\n\n"
        "def test_raise_only_reraised():\n    _run()\n"
    ),
    "test_decorator_without_check": (
        "def logged(func):\n    def wrapper():\n        return func()\n    return wrapper\n\n"
        "@logged\ndef test_decorator_without_check():\n    go()\n"
    ),
    "test_cycle": ("def _a():\n    _b()\n\ndef _b():\n    _a()\n\ndef test_cycle():\n    _a()\n"),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_recognised_oracles(name: str) -> None:
    assert oracle_map(ast.parse(CHECKS[name]))[name] is True


@pytest.mark.parametrize("name", sorted(NO_CHECKS))
def test_tests_without_oracle(name: str) -> None:
    assert oracle_map(ast.parse(NO_CHECKS[name]))[name] is False


def test_unittest_methods_and_class_helpers() -> None:
    source = (
        "import unittest\n\nclass Checks(unittest.TestCase):\n"
        "    def _verify(self, x):\n        self.assertEqual(x, 1)\n\n"
        "    def test_via_helper(self):\n        self._verify(go())\n\n"
        "    def test_nothing(self):\n        go()\n"
    )
    assert oracle_map(ast.parse(source)) == {
        "Checks::test_via_helper": True,
        "Checks::test_nothing": False,
    }


VACUOUS = {
    "test_assert_true": "def test_assert_true():\n    go()\n    assert True\n",
    "test_tautology": "def test_tautology():\n    x = go()\n    assert x == x\n",
    "test_swallowed": (
        "def test_swallowed():\n    try:\n        assert go() == 3\n    except AssertionError:\n"
        "        pass\n"
    ),
    "test_bare_except": (
        "def test_bare_except():\n    try:\n        assert go() == 3\n    except:\n        pass\n"
    ),
    "test_suppressed": (
        "import contextlib\n\ndef test_suppressed():\n"
        "    with contextlib.suppress(AssertionError):\n        assert go() == 3\n"
    ),
}


@pytest.mark.parametrize("name", sorted(VACUOUS))
def test_asserts_that_cannot_fail_do_not_count(name: str) -> None:
    assert oracle_map(ast.parse(VACUOUS[name]))[name] is False


def test_handler_that_re_raises_keeps_the_oracle() -> None:
    source = (
        "def test_reraises():\n    try:\n        assert go() == 3\n    except AssertionError:\n"
        "        log()\n        raise\n"
    )
    assert oracle_map(ast.parse(source))["test_reraises"] is True


def test_conftest_fixtures_that_check_count(tmp_path: Path) -> None:
    (tmp_path / "tests" / "api").mkdir(parents=True)
    (tmp_path / "tests" / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef no_errors(caplog):\n    yield\n"
        "    assert not caplog.records\n\n@pytest.fixture\ndef client():\n    return 1\n"
    )
    (tmp_path / "tests" / "api" / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef client():\n    yield 2\n    assert closed()\n"
    )
    fixtures = conftest_fixture_oracles(tmp_path, "tests/api/test_x.py")
    assert {k: v for k, v in fixtures.items() if "(" not in k} == {
        "no_errors": True,
        "client": True,
    }
    source = "def test_a(no_errors):\n    go()\n\ndef test_b(other):\n    go()\n"
    assert oracle_map(ast.parse(source), fixtures) == {"test_a": True, "test_b": False}
    assert conftest_fixture_oracles(tmp_path, "tests/test_y.py")["client"] is False


def test_oracle_shapes_ignore_literals_and_local_names() -> None:
    first = ast.parse(
        "def test_a():\n    s = Store()\n    assert total([(1, 10.0)]) == 12.0\n"
        "    assert s.get(1) is not None\n"
    ).body[0]
    reworded = ast.parse(
        "def test_b():\n    store = Store()\n    assert total([(2, 5.0)]) == 12.0\n"
        "    assert store.get(7) is not None\n"
    ).body[0]
    other = ast.parse("def test_c():\n    assert total([(2, 5.0)]) > 1\n").body[0]
    fstring = ast.parse("def test_d(t):\n    assert render() == f'<m c={t!r}>'\n").body[0]
    assert isinstance(fstring, ast.FunctionDef)
    assert oracle_shapes(fstring) == {"assert render() == C"}
    assert isinstance(first, ast.FunctionDef)
    assert isinstance(reworded, ast.FunctionDef) and isinstance(other, ast.FunctionDef)
    assert oracle_shapes(first) == oracle_shapes(reworded)
    assert oracle_shapes(first) == {"assert total([(C, C)]) == C", "assert V.get(C) is not C"}
    assert not oracle_shapes(other) <= oracle_shapes(first)


def test_helpers_imported_from_the_tests_folders_count(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "helpers.py").write_text(
        "def check_row(row):\n    if row is None:\n        raise ValueError('no row')\n\n"
        "def make_row():\n    return {}\n"
    )
    (tmp_path / "tests" / "conftest.py").write_text(
        "def assert_same(a, b):\n    if a != b:\n        raise AssertionError((a, b))\n"
    )
    (tmp_path / "setup_helpers.py").write_text("def top_helper(x):\n    assert x\n")
    helpers = conftest_fixture_oracles(tmp_path, "tests/test_rows.py")
    source = (
        "from tests import helpers\nfrom tests.conftest import assert_same\n"
        "from .helpers import check_row, make_row\n\n"
        "def test_direct():\n    check_row(load())\n\n"
        "def test_by_module():\n    helpers.check_row(load())\n\n"
        "def test_conftest_helper():\n    assert_same(load(), 1)\n\n"
        "def test_maker_only():\n    make_row()\n\n"
        "def test_top_level_is_not_a_test_helper():\n    top_helper(1)\n"
    )
    assert oracle_map(ast.parse(source), helpers) == {
        "test_direct": True,
        "test_by_module": True,
        "test_conftest_helper": True,
        "test_maker_only": False,
        "test_top_level_is_not_a_test_helper": False,
    }
