"""The AST mutator: every kind of mutant, on the chosen lines only, with line numbers kept."""

from __future__ import annotations

import ast
import textwrap

from agent.quality.mutator import generate_mutants

SOURCE = textwrap.dedent(
    '''
    """Orders."""
    import logging

    log = logging.getLogger(__name__)
    LIMIT: int = 100


    def place(items, express=False):
        """Place an order."""
        amount = sum(items)
        if amount > LIMIT and not express:
            amount -= 5
        try:
            notify(amount)
        except ConnectionError:
            log.warning("notify failed %s", amount)
            amount = amount * 2
        log.info("placed %s", amount)
        return amount


    class Cart:
        def full(self, n: int = 3) -> bool:
            return n >= 3 or self.flag
    '''
).lstrip()


def _by_kind(lines: set[int] | None = None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for mutant in generate_mutants("shop/orders.py", SOURCE, lines):
        found.setdefault(mutant.kind, []).append(mutant.description)
    return found


def test_every_kind_of_mutant_is_made() -> None:
    kinds = _by_kind()
    assert set(kinds) == {
        "comparison",
        "boolean",
        "arithmetic",
        "constant",
        "assign_none",
        "return_none",
        "remove_call",
        "handler_pass",
    }
    assert "`amount > LIMIT` -> `(amount <= LIMIT)`" in kinds["comparison"]
    assert "`n >= 3 or self.flag` -> `(n >= 3 and self.flag)`" in kinds["boolean"]
    assert "`amount -= 5` -> `amount += 5`" in kinds["arithmetic"]
    assert "`notify(amount)` -> `pass`" in kinds["remove_call"]


def test_mutants_keep_line_numbers_and_parse() -> None:
    for mutant in generate_mutants("shop/orders.py", SOURCE):
        ast.parse(mutant.source)
        assert mutant.source.count("\n") == SOURCE.count("\n")
        before, after = SOURCE.splitlines(), mutant.source.splitlines()
        differing = [i + 1 for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        assert differing and min(differing) >= mutant.line - 1


def test_docstrings_annotations_defaults_and_log_text_are_not_mutated() -> None:
    kinds = _by_kind()
    descriptions = [d for kind, ds in kinds.items() if kind != "handler_pass" for d in ds]
    assert not any("Orders." in d or "Place an order" in d for d in descriptions)
    assert not any("placed %s" in d or "notify failed" in d for d in descriptions)
    assert not any(d.startswith("`False`") for d in descriptions)  # default argument
    assert kinds["constant"].count("`3` -> `4`") == 1  # `n >= 3`, not the default `n: int = 3`
    assert "`100` -> `101`" in descriptions  # the module constant's value is fair game
    assert not any("int" in d for d in descriptions)
    # The log call is not removed, but the real call is.
    assert "`log.info('placed %s', amount)` -> `pass`" not in descriptions


def test_only_the_given_lines_are_mutated() -> None:
    line = SOURCE.splitlines().index("        amount -= 5") + 1
    mutants = generate_mutants("shop/orders.py", SOURCE, {line})
    assert mutants and {m.line for m in mutants} == {line}
    assert {m.function for m in mutants} == {"place"}


def test_mutants_know_what_to_swap() -> None:
    mutants = generate_mutants("shop/orders.py", SOURCE)
    constant = next(m for m in mutants if m.description == "`100` -> `101`")
    assert constant.function is None and constant.statement == "LIMIT: int = 101\n"
    method = next(m for m in mutants if m.kind == "boolean" and "self.flag" in m.description)
    assert method.function == "Cart.full" and method.statement is None


def test_handler_mutant_counts_its_except_line() -> None:
    line = SOURCE.splitlines().index("    except ConnectionError:") + 1
    kinds = {m.kind for m in generate_mutants("shop/orders.py", SOURCE, {line})}
    assert kinds == {"handler_pass"}


def test_limit_spreads_over_the_file() -> None:
    everything = generate_mutants("shop/orders.py", SOURCE)
    few = generate_mutants("shop/orders.py", SOURCE, limit=4)
    assert len(few) == 4
    assert (
        few[0].line == everything[0].line and few[-1].line > everything[len(everything) // 2].line
    )


def test_unparseable_source_gives_no_mutants() -> None:
    assert generate_mutants("x.py", "def broken(:\n") == []


def test_type_aliases_are_not_mutated_they_only_speak_to_type_checkers() -> None:
    source = (
        "import os\n"
        "import typing\n"
        "from typing import TypeVar, Union\n"
        'StrPath = Union[str, "os.PathLike[str]"]\n'
        'T = TypeVar("T")\n'
        "Maybe = typing.Optional[int]\n"
        "LIMIT = compute(3)\n"
    )
    described = [m.description for m in generate_mutants("m.py", source)]
    assert described == ["`compute(3)` -> `None`", "`3` -> `4`"]
