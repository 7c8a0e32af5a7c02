"""The judge's corpus: each target's own held-out test file, verbatim and as broken variants.

The verbatim file must be accepted; each variant must be rejected with the reason its defect
calls for. Cases are grouped into the proposals the offline suite makes, one model turn each:

1. static  — variants that no test run is needed for (path, syntax)
2. batch   — the variants the judge must run to tell apart, proposed together as one turn
3. alone   — the write into the package: a side effect is pinned to a test by running tests
             one by one, which only works when nothing else in the proposal is a suspect
4. verbatim — every held-out file as its authors wrote it, all in one proposal (one case each);
             a target may hold out more files than it breaks (`TargetSpec.broken`): those are
             positive cases only
5. diff     — where the target's history has a real change: a held-out test that exercises
             none of it, proposed for that change (a run of its own, with a base)
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import PurePosixPath

from pydantic import BaseModel

from agent.schema import Reason
from agent.source.files import module_path
from evals import variants as v
from evals.prepare import PreparedTarget

ACCEPTED = "accepted"


class Case(BaseModel):
    target: str
    heldout: str  # the held-out file it is made from
    name: str  # "verbatim" or the reason code the defect calls for
    expected: str  # "accepted" or a reason code
    group: str  # static | batch | alone | verbatim
    path: str
    content: str
    tests: list[str]  # qualnames of the broken tests; empty = judged as a whole file
    description: str
    # verbatim files only: upstream tests the judge rightly rejects (qualname -> reason)
    known: dict[str, str] = {}


class Skipped(BaseModel):
    heldout: str
    name: str
    why: str


GROUP_ORDER = ("static", "batch", "alone", "verbatim", "diff")


def cases(
    prepared: PreparedTarget, *, rounds: int, network_isolated: bool
) -> tuple[list[Case], list[Skipped]]:
    """Every case of every held-out file of the target, and the variants that do not apply."""
    found: list[Case] = []
    skipped: list[Skipped] = []
    for path, content in prepared.heldout.items():
        made, missed = _cases_for(prepared, path, content, rounds, network_isolated)
        found += made
        skipped += missed
    found.sort(key=lambda c: GROUP_ORDER.index(c.group))
    return found, skipped


def turns(all_cases: list[Case]) -> list[list[Case]]:
    """The proposals, in order: one turn per group (every verbatim file of the target in one)."""
    out: list[list[Case]] = []
    for group in GROUP_ORDER:
        members = [c for c in all_cases if c.group == group]
        if group == "diff":
            continue  # judged against a change: proposed in a run of its own
        if members:
            out.append(members)
    return out


def _cases_for(
    prepared: PreparedTarget, path: str, content: str, rounds: int, network_isolated: bool
) -> tuple[list[Case], list[Skipped]]:
    spec = prepared.spec
    tree = ast.parse(content)
    tests = v.test_functions(tree)
    instances = prepared.instances(path)
    # Cheapest first: a hang or a side effect costs one wait or one solo run per test item.
    by_cost = sorted(tests, key=lambda t: (instances.get(t.qualname, 1), tests.index(t)))
    cheapest = by_cost[0].qualname
    helpers = v.module_helpers(tree)
    made: list[Case] = []
    missed: list[Skipped] = []

    def add(
        name: str,
        group: str,
        build: Callable[[], str],
        broken: list[str],
        description: str,
        where: str | None = None,
    ) -> None:
        if name != "verbatim" and spec.variants and name not in spec.variants:
            return  # not one of the variants this target is scored on
        try:
            text = build()
        except v.VariantError as exc:
            missed.append(Skipped(heldout=path, name=name, why=str(exc)))
            return
        expected = ACCEPTED if name == "verbatim" else Reason(name).value
        known = {
            k.test.split("::", 1)[1]: k.reason
            for k in spec.known_rejections
            if name == "verbatim" and k.test.split("::", 1)[0] == path
        }
        made.append(
            Case(
                known=known,
                target=spec.name,
                heldout=path,
                name=name,
                expected=expected,
                group=group,
                path=where or v.heldout_variant_path(path, name),
                content=text,
                tests=broken,
                description=description,
            )
        )

    def reduced(*keep: str) -> str:
        return v.reduce_to(content, set(keep))

    add("verbatim", "verbatim", lambda: content, [], "the file as its authors wrote it", path)
    unchanged_path, _, unchanged = spec.unchanged_test.partition("::")
    if spec.change_base and unchanged_path == path:
        add(
            Reason.MISSES_CHANGE,
            "diff",
            lambda: reduced(unchanged),
            [unchanged],
            f"{unchanged}, proposed for the change since {spec.change_base}, which it never runs",
        )
    if path not in spec.broken_files():
        return made, missed  # a positive case only
    package_dir = PurePosixPath(module_path(prepared.repo, spec.package) or spec.package).parent
    add(
        Reason.PATH,
        "static",
        lambda: content,
        [],
        f"the file placed in the package ({package_dir}/), outside {spec.tests_root}/",
        str(package_dir / PurePosixPath(path).name),
    )
    add(
        Reason.SYNTAX,
        "static",
        lambda: v.missing_colon(reduced(cheapest), cheapest),
        [],
        f"{cheapest}: the colon after its signature is missing",
    )
    add(
        Reason.IMPORT,
        "batch",
        lambda: v.misspelled_import(reduced(cheapest), spec.package),
        [],
        f"a name imported from {spec.package} is misspelled",
    )
    add(
        Reason.COLLECTION,
        "batch",
        lambda: v.with_missing_fixture(reduced(cheapest), cheapest),
        [cheapest],
        f"{cheapest} asks for the fixture `{v.MISSING_FIXTURE}`, which does not exist",
    )
    add(
        Reason.NO_TESTS,
        "batch",
        lambda: v.skipped_module(reduced(cheapest)),
        [],
        "a module-level `pytestmark = pytest.mark.skip(...)`",
    )
    asserting = next((t.qualname for t in by_cost if v.own_assertion(t.node)), None)
    add(
        Reason.FAILS,
        "batch",
        lambda: v.flipped_expectation(reduced(_need(asserting, "an assert")), asserting or ""),
        [asserting] if asserting else [],
        f"{asserting}: its first assertion expects the opposite",
    )
    add(
        Reason.ERROR,
        "batch",
        lambda: v.prepend(reduced(cheapest), cheapest, [f"{v.UNDEFINED_HELPER}()"]),
        [cheapest],
        f"{cheapest} calls `{v.UNDEFINED_HELPER}()`, which is not defined (NameError)",
    )
    add(
        Reason.TIMEOUT,
        "batch",
        lambda: v.prepend(reduced(cheapest), cheapest, ["time.sleep(10**6)"], ("time",)),
        [cheapest],
        f"{cheapest} starts with `time.sleep(10**6)`",
    )
    if network_isolated:
        add(
            Reason.NETWORK,
            "batch",
            lambda: v.prepend(
                reduced(cheapest),
                cheapest,
                [f'socket.create_connection(("{v.UNREACHABLE_HOST}", 80), timeout=5).close()'],
                ("socket",),
            ),
            [cheapest],
            f"{cheapest} opens a TCP connection to {v.UNREACHABLE_HOST}:80",
        )
    elif not spec.variants or Reason.NETWORK in spec.variants:
        missed.append(
            Skipped(
                heldout=path,
                name=Reason.NETWORK,
                why="the sandbox has no network namespace here, so the call is not made",
            )
        )
    add(
        Reason.FLAKY,
        "batch",
        lambda: v.flaky_draw(reduced(cheapest), cheapest, instances.get(cheapest, 1), rounds),
        [cheapest],
        f"{cheapest} asserts on a random draw that passes once and fails on a repeat",
    )
    pair = sorted(by_cost[:2], key=tests.index)
    add(
        Reason.ORDER_DEPENDENT,
        "batch",
        lambda: v.shared_state(reduced(*(t.qualname for t in pair)), *_two(pair)),
        [pair[-1].qualname],
        f"{pair[-1].qualname} relies on a module list that {pair[0].qualname} fills",
    )
    bare = next((t.qualname for t in by_cost if v.assertion_only(t.node, helpers)), None)
    add(
        Reason.NO_ASSERTIONS,
        "batch",
        lambda: v.stripped_assertions(reduced(_need(bare, "a test checked only by asserts"))),
        [bare] if bare else [],
        f"{bare}: every assert removed (the expressions stay)",
    )
    source_path, _, source_test = spec.redundant_source.partition("::")
    add(
        Reason.REDUNDANT,
        "batch",
        lambda: v.reduce_to(
            (prepared.repo / source_path).read_text(encoding="utf-8"), {source_test}
        ),
        [],
        f"a copy of the existing {spec.redundant_source}",
    )
    add(
        Reason.SIDE_EFFECT,
        "alone",
        lambda: v.prepend(
            reduced(cheapest),
            cheapest,
            [
                f'with open(importlib.import_module("{spec.package}").__file__, "a") as source:',
                '    source.write("\\n")',
            ],
            ("importlib",),
        ),
        [cheapest],
        f"{cheapest} appends a line to {spec.package}/__init__.py",
    )
    return made, missed


def _need(name: str | None, what: str) -> str:
    if name is None:
        raise v.VariantError(f"no test has {what}")
    return name


def _two(pair: list[v.TestFunction]) -> tuple[str, str]:
    if len(pair) < 2:
        raise v.VariantError("the file has a single test: nothing can depend on another")
    return pair[0].qualname, pair[1].qualname
