"""The planted defects: each variant changes exactly what it claims and nothing else."""

from __future__ import annotations

import ast
import random

import pytest

from evals import variants as v

SAMPLE = '''\
"""Orders over HTTP."""

import pytest

from shop.auth import issue_token


@pytest.fixture
def headers(client):
    response = client.post("/login", json={"username": "alice", "password": "x"})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_login(client):
    response = client.post("/login", json={})
    assert response.status_code == 401


@pytest.mark.parametrize("sku", ["A", "B"])
def test_order(
    client,
    headers,
    sku,
):
    """Placing an order."""
    created = client.post("/orders", json={"items": [sku]}, headers=headers)
    assert created.status_code == 201, created.get_json()
    with pytest.raises(KeyError):
        created.get_json()["nope"]


class TestTokens:
    def test_forged(self):
        assert issue_token("alice", "s") != issue_token("alice", "t")

    def test_round_trip(self):
        assert issue_token("bob", "s")
'''


def names(content: str) -> list[str]:
    return [t.qualname for t in v.test_functions(ast.parse(content))]


def test_reduce_keeps_module_code_and_only_the_named_tests() -> None:
    reduced = v.reduce_to(SAMPLE, {"test_order", "TestTokens::test_round_trip"})
    assert names(reduced) == ["test_order", "TestTokens::test_round_trip"]
    assert "def headers(client):" in reduced and "from shop.auth import issue_token" in reduced
    assert "\n\n\n\n" not in reduced


def test_reduce_drops_a_class_left_without_tests() -> None:
    reduced = v.reduce_to(SAMPLE, {"test_login"})
    assert names(reduced) == ["test_login"]
    assert "class TestTokens" not in reduced


def test_missing_colon_is_a_syntax_error_on_a_multiline_signature() -> None:
    broken = v.missing_colon(SAMPLE, "test_order")
    with pytest.raises(SyntaxError):
        ast.parse(broken)
    assert "):\n" not in broken.split("def test_order(")[1].split('"""')[0]


def test_misspelled_import_changes_the_imported_name_only() -> None:
    broken = v.misspelled_import(SAMPLE, "shop")
    assert "from shop.auth import issue_tokens\n" in broken
    assert broken.count("issue_tokens") == 1


def test_misspelled_import_without_a_project_import_adds_a_missing_one() -> None:
    broken = v.misspelled_import("def test_x():\n    assert 1\n", "shop")
    assert "from shop import testing_helpers" in broken


@pytest.mark.parametrize("qualname", ["test_login", "test_order", "TestTokens::test_forged"])
def test_missing_fixture_is_requested_by_the_test(qualname: str) -> None:
    broken = v.with_missing_fixture(SAMPLE, qualname)
    func = next(t.node for t in v.test_functions(ast.parse(broken)) if t.qualname == qualname)
    assert [a.arg for a in func.args.args][-1] == v.MISSING_FIXTURE


def test_missing_fixture_on_a_test_without_parameters() -> None:
    broken = v.with_missing_fixture("def test_x():\n    assert 1\n", "test_x")
    assert f"def test_x({v.MISSING_FIXTURE}):" in broken


def test_skipped_module_marks_the_whole_file() -> None:
    broken = v.skipped_module(SAMPLE)
    tree = ast.parse(broken)
    assigned = [n for n in tree.body if isinstance(n, ast.Assign)]
    assert [t.id for n in assigned for t in n.targets if isinstance(t, ast.Name)] == ["pytestmark"]
    assert broken.count("import pytest") == 1


def test_flipped_expectation_negates_the_first_own_assert_and_keeps_its_message() -> None:
    broken = v.flipped_expectation(SAMPLE, "test_order")
    assert "assert created.status_code != 201, created.get_json()" in broken
    assert "assert response.status_code == 401" in broken  # other tests untouched


def test_flipped_expectation_of_a_bare_truth_test() -> None:
    broken = v.flipped_expectation(SAMPLE, "TestTokens::test_round_trip")
    assert "assert not issue_token('bob', 's')" in broken


def test_flip_needs_an_assert_in_the_test_itself() -> None:
    with pytest.raises(v.VariantError):
        v.flipped_expectation("def test_x(client):\n    client.get('/')\n", "test_x")


def test_stripped_assertions_keep_the_expressions() -> None:
    stripped = v.stripped_assertions(SAMPLE)
    tree = ast.parse(stripped)
    assert not any(isinstance(n, ast.Assert) for n in ast.walk(tree))
    assert "    response.status_code == 401\n" in stripped


def test_prepend_goes_after_the_docstring_and_imports_what_it_needs() -> None:
    hung = v.prepend(SAMPLE, "test_order", ["time.sleep(10**6)"], ("time",))
    body = hung.split('"""Placing an order."""\n', 1)[1]
    assert body.startswith("    time.sleep(10**6)\n")
    assert "\nimport time\n" in hung
    ast.parse(hung)


def test_shared_state_links_the_later_test_to_the_earlier_one() -> None:
    linked = v.shared_state(SAMPLE, "test_login", "test_order")
    assert '_prepared.append("test_login")' in linked
    assert 'assert _prepared, "runs after test_login"' in linked
    ast.parse(linked)


@pytest.mark.parametrize(("instances", "rounds"), [(1, 5), (3, 5), (5, 5), (2, 3)])
def test_flaky_seed_passes_the_first_execution_and_fails_a_repeat(
    instances: int, rounds: int
) -> None:
    rng = random.Random(v.flaky_seed(instances, rounds))
    draws = [rng.random() for _ in range(instances * rounds)]
    assert all(d < 0.5 for d in draws[:instances])
    assert any(d >= 0.5 for d in draws[instances:])


def test_flaky_draw_is_seeded_at_module_level() -> None:
    flaky = v.flaky_draw(SAMPLE, "test_login", 1, 5)
    assert f"_draws = random.Random({v.flaky_seed(1, 5)})" in flaky
    assert "    assert _draws.random() < 0.5\n" in flaky


def test_assertion_only_excludes_raises_and_helpers() -> None:
    tree = ast.parse(SAMPLE)
    tests = {t.qualname: t.node for t in v.test_functions(tree)}
    helpers = v.module_helpers(tree)
    assert v.assertion_only(tests["test_login"], helpers)
    assert not v.assertion_only(tests["test_order"], helpers)  # pytest.raises is an oracle too


def test_variant_path_sits_next_to_the_held_out_file() -> None:
    assert v.heldout_variant_path("tests/test_api.py", "fails") == "tests/test_api_fails.py"
    assert v.qualname_of("tests/a.py::TestX::test_y[1-2]") == "TestX::test_y"


UNITTEST = """\
import unittest


class AuthTestCase(unittest.TestCase):
    def setUp(self):
        self.token = "t"

    def test_valid(self):
        self.assertEqual(self.token, "t")

    def test_invalid(self):
        self.assertNotEqual(self.token, "x")


class AuthTestCaseOldStyle(AuthTestCase):
    def setUp(self):
        self.token = "t"


class Helper:
    def test_not_collected(self):
        pass
"""


def test_unittest_cases_are_test_classes_and_a_subclass_without_own_tests_is_dropped() -> None:
    assert names(UNITTEST) == ["AuthTestCase::test_valid", "AuthTestCase::test_invalid"]
    reduced = v.reduce_to(UNITTEST, {"AuthTestCase::test_invalid"})
    assert names(reduced) == ["AuthTestCase::test_invalid"]
    assert "def setUp(self):" in reduced and "class AuthTestCaseOldStyle" not in reduced
    assert "class Helper" in reduced  # not a test class: module code stays
