"""The gates, declared once: each one's name, the reasons it gives, what it needs, whether it is
on by default and whether it may be switched off.

The order of `GATES` is the order of precedence (a test that fails several gates gets the reason
of the first, `work.rank`) and the order the judge runs them in (`judge.Judge.check`). A gate
runs on what it needs: the inputs below, each made once per check, by the first gate that needs
it, so the sandbox runs stay batched whatever is switched on. Measures (coverage, mutation, the
base run) are gates that give no reason; switched off, they are not made and their numbers are
absent from the verdicts.

Users switch gates with `[tool.itarch] gates = { flaky = false, detects_change = true }`
(`agent.config.Settings.gates`); the gates that decide whether a test runs and passes at all
stay on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from agent.schema import Reason

# What gates judge by. Each is made once per check, when a switched-on gate first needs it.
Input = Literal[
    "files",  # the proposed files, bug marks applied, and their facts (AST, oracles)
    "first_run",  # one pytest run of the new files, then related existing tests (and baselines)
    "reruns",  # the new tests again in-interpreter: reverse order, then shuffled rounds
    "lines",  # per test: lines beyond the existing suite, changed lines and seams reached
    "mutants",  # mutants of the changed lines, run against the tests that reach them
    "base",  # the tests once more on the base revision's code
]

# The gates whose being on makes an input: with all of them off it is not made (its sandbox
# runs are saved) and the gates that merely use it judge without it.
MADE_BY: dict[Input, tuple[str, ...]] = {
    "reruns": ("flaky", "order_dependent"),
    "lines": ("coverage",),
    "mutants": ("mutation",),
    "base": ("base_run",),
}

_CORE = "it decides whether a test runs and passes at all"


@dataclass(frozen=True)
class Gate:
    name: str
    reasons: tuple[Reason, ...]  # the verdict reasons it gives; none for a measure
    needs: tuple[Input, ...]  # made before it runs; a needed input switched off is an error
    uses: tuple[Input, ...] = ()  # made before it runs when switched on; else judged without
    default: bool = True  # on when `gates` does not name it
    core: str = ""  # why it cannot be switched off; empty when it can

    @property
    def switchable(self) -> bool:
        return not self.core

    @property
    def static(self) -> bool:
        """Judged on the files alone, before anything runs."""
        return self.needs == ("files",)


GATES: tuple[Gate, ...] = (
    Gate("path", (Reason.PATH,), needs=("files",), core=_CORE),
    Gate("syntax", (Reason.SYNTAX,), needs=("files",), core=_CORE),
    Gate("collection", (Reason.IMPORT, Reason.COLLECTION), needs=("first_run",), core=_CORE),
    Gate("no_tests", (Reason.NO_TESTS,), needs=("first_run",), core=_CORE),
    Gate("fails", (Reason.FAILS, Reason.ERROR, Reason.TIMEOUT), needs=("first_run",), core=_CORE),
    Gate(
        "network",
        (Reason.NETWORK,),
        needs=("first_run",),
        core="tests have no network here, so a test that needs it cannot pass",
    ),
    Gate("side_effect", (Reason.SIDE_EFFECT,), needs=("first_run",), uses=("reruns",)),
    Gate("flaky", (Reason.FLAKY,), needs=("reruns",)),
    Gate("order_dependent", (Reason.ORDER_DEPENDENT,), needs=("first_run", "reruns")),
    Gate("no_assertions", (Reason.NO_ASSERTIONS,), needs=("first_run",)),
    Gate("coverage", (), needs=("lines",)),
    Gate("redundant", (Reason.REDUNDANT,), needs=("lines",), uses=("mutants",)),
    Gate("misses_change", (Reason.MISSES_CHANGE,), needs=("lines",)),
    # the mutants run before redundant (its evidence); their counts per test are written here
    Gate("mutation", (), needs=("lines", "mutants")),
    Gate("base_run", (), needs=("base",)),
    Gate(
        "detects_change", (Reason.GUARDS_ONLY,), needs=("base",), uses=("mutants",), default=False
    ),
    # without mutation it has nothing to judge by (as `require = ["kills_mutants"]` always had)
    Gate("kills_mutants", (Reason.KILLS_NO_MUTANT,), needs=(), uses=("mutants",), default=False),
)

BY_NAME: dict[str, Gate] = {g.name: g for g in GATES}
ORDER: list[Reason] = [reason for gate in GATES for reason in gate.reasons]
RANK: dict[Reason, int] = {reason: i for i, reason in enumerate(ORDER)}


def switched_on(switches: Mapping[str, bool]) -> list[Gate]:
    """The gates that run, in order: each as `switches` says, else as its default."""
    return [g for g in GATES if switches.get(g.name, g.default)]


def made(on: list[Gate]) -> set[Input]:
    """The inputs the switched-on gates make."""
    names = {g.name for g in on}
    always: set[Input] = {"files", "first_run"}
    return always | {i for i, makers in MADE_BY.items() if names & set(makers)}


def check_switches(switches: Mapping[str, bool]) -> None:
    """Raise ValueError, in one line, for an unknown gate, a gate that cannot be switched off,
    or a gate switched on that needs one switched off."""
    for name, value in switches.items():
        gate = BY_NAME.get(name)
        if gate is None:
            known = ", ".join(BY_NAME)
            raise ValueError(f"unknown gate {name!r}; the gates are: {known}")
        if not value and not gate.switchable:
            raise ValueError(f"the {name} gate cannot be switched off: {gate.core}")
    on = switched_on(switches)
    available = made(on)
    for gate in on:
        for need in gate.needs:
            if need not in available:
                off = " or ".join(MADE_BY[need])
                raise ValueError(f"the {gate.name} gate needs {off}, which is switched off")
