"""Every Pydantic model that crosses a module boundary.

The JSON shapes here are contracts: `itarch check --json`, the journal, the MCP tools and the
evaluation all read them. Rename nothing without a migration.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- proposals (model -> harness)


class Expectation(StrEnum):
    PASS = "pass"
    BUG = "bug"


class ProposedTest(Strict):
    """One test function's expectation. Tests not listed are expected to pass."""

    name: str = Field(description="The test function name, e.g. test_checkout_charges_card.")
    expectation: Expectation = Field(
        default=Expectation.PASS,
        description="'pass', or 'bug' when the test documents a real defect in the current code.",
    )
    justification: str = Field(
        default="",
        description="Required for 'bug': which behaviour is wrong and why the test is right.",
    )
    seams: list[str] = Field(
        default_factory=list, description="Seam ids (from the context) this test exercises."
    )


class ProposedFile(Strict):
    path: str = Field(description="Path relative to the repository root, under the tests root.")
    content: str = Field(description="The full Python source of the test file.")
    purpose: str = Field(default="", description="One line: what integration this file proves.")
    tests: list[ProposedTest] = Field(
        default_factory=list,
        description="Per-test expectations; list every test marked 'bug' here.",
    )

    @field_validator("path")
    @classmethod
    def _path_is_python(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("path is empty")
        if not v.endswith(".py"):
            raise ValueError(f"{v!r} is not a Python file (must end in .py)")
        return v


class TestSuiteProposal(Strict):
    """What the model hands to `propose_tests`: whole test files, each proven before acceptance."""

    files: list[ProposedFile] = Field(min_length=1)
    notes: str = Field(default="", description="Anything the reviewer should know.")


# ---------------------------------------------------------------- sandbox results


class IsolationLevel(StrEnum):
    CONTAINER = "container"
    BWRAP = "bwrap"
    UNSHARE = "unshare"
    PROCESS = "process"


Outcome = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]


class TestOutcome(BaseModel):
    """One pytest item, as our in-sandbox plugin saw it (not scraped from output)."""

    nodeid: str
    outcome: Outcome
    when: Literal["setup", "call", "teardown"] = "call"
    duration: float = 0.0
    exc_type: str | None = None  # e.g. "AssertionError", "ModuleNotFoundError"
    message: str = ""  # the exception's one-line message
    longrepr: str = ""  # traceback, trimmed
    assertion: bool = False  # failed on an assert / pytest.fail rather than another exception
    network: list[str] = Field(default_factory=list)  # non-loopback addresses it tried to reach
    lines: dict[str, list[int]] = Field(default_factory=dict)  # file -> lines hit (if traced)
    xfail_strict: bool = False
    xfail_reason: str = ""
    timed_out: bool = False  # hit the per-test limit (or the run's wall clock while running)
    run: int = 0  # which repetition (0 = first) when reruns were asked for
    leftover: int = 0  # processes its body started that still ran after its teardown


class CollectError(BaseModel):
    path: str  # file relative to repo root
    exc_type: str | None = None
    message: str = ""
    longrepr: str = ""


class RunResult(BaseModel):
    outcomes: list[TestOutcome] = Field(default_factory=list)
    collect_errors: list[CollectError] = Field(default_factory=list)
    collected: list[str] = Field(default_factory=list)  # node ids collected
    exit_code: int | None = None
    timed_out: bool = False
    crashed: str = ""  # set when pytest died without writing a complete report
    isolation: IsolationLevel = IsolationLevel.PROCESS
    duration: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""
    changed_paths: list[str] = Field(default_factory=list)  # repo files the run modified
    leftover_processes: int = 0

    def by_nodeid(self) -> dict[str, list[TestOutcome]]:
        grouped: dict[str, list[TestOutcome]] = {}
        for o in self.outcomes:
            grouped.setdefault(o.nodeid, []).append(o)
        return grouped


# ---------------------------------------------------------------- verdicts (gates -> everyone)


class Reason(StrEnum):
    PATH = "path"
    SYNTAX = "syntax"
    IMPORT = "import"
    COLLECTION = "collection"
    NO_TESTS = "no_tests"
    FAILS = "fails"
    ERROR = "error"
    TIMEOUT = "timeout"
    NETWORK = "network"
    SIDE_EFFECT = "side_effect"
    FLAKY = "flaky"
    ORDER_DEPENDENT = "order_dependent"
    NO_ASSERTIONS = "no_assertions"
    REDUNDANT = "redundant"
    MISSES_CHANGE = "misses_change"
    GUARDS_ONLY = "guards_only"  # optional gate: passes on the base and kills no mutant
    KILLS_NO_MUTANT = "kills_no_mutant"  # optional gate: kills no mutant of the change


Verdict = Literal["accepted", "rejected", "bug"]
OnBase = Literal["failed", "passed", "error", "not_applicable"]


class TestVerdict(BaseModel):
    nodeid: str
    verdict: Verdict
    reason: Reason | None = None
    detail: str = ""  # one line a person can act on
    feedback: str = ""  # what the model needs to repair: assertion, traceback tail, missing name
    reruns_passed: int | None = None
    reruns_total: int | None = None
    lines_added: int | None = None  # lines covered beyond the existing suite
    changed_lines_covered: list[str] = Field(default_factory=list)  # "path:line"
    seams: list[str] = Field(default_factory=list)
    mutants_killed: list[str] = Field(default_factory=list)
    # Mutants of the changed lines (the ones a score counts): how many there are, how many it kills
    change_mutants: int | None = None
    change_mutants_killed: int | None = None
    # The base run: the same test on the base revision's code
    on_base: OnBase = "not_applicable"
    detects_change: bool | None = None  # fails on the base, passes on the change; None: no base
    base_detail: str = ""  # how it ended on the base, and what that means

    @property
    def breaks_on_change(self) -> bool:
        """Fails on the change but passes on the base: the change broke this behaviour."""
        failed_here = self.verdict == "bug" or self.reason in (Reason.FAILS, Reason.ERROR)
        return failed_here and self.on_base == "passed"


class FileVerdict(BaseModel):
    path: str
    tests: list[TestVerdict] = Field(default_factory=list)
    mutation_score: float | None = None

    @property
    def accepted(self) -> bool:
        """A file is kept when every test in it is accepted or documents a bug."""
        return bool(self.tests) and all(t.verdict != "rejected" for t in self.tests)


class CheckResult(BaseModel):
    files: list[FileVerdict] = Field(default_factory=list)
    isolation: IsolationLevel = IsolationLevel.PROCESS
    gate_seconds: dict[str, float] = Field(default_factory=dict)
    mutation_score: float | None = None
    mutants_total: int = 0
    mutants_killed: int = 0
    # What the tests kept so far (this proposal's and earlier ones') leave open, for the model:
    survivors: list[str] = Field(default_factory=list)  # "path:line: `a < b` -> `a >= b`"
    kept_kill: tuple[int, int] = (0, 0)  # mutants the kept tests kill, of those seen, in the run
    unexecuted_changes: list[str] = Field(default_factory=list)  # "path lines 12-14 (fn)"
    untested_seams: list[str] = Field(default_factory=list)  # "kind path:line detail"


# ---------------------------------------------------------------- context


class ChangedFile(BaseModel):
    path: str
    status: Literal["added", "modified", "deleted", "renamed", "untracked"]
    added_lines: list[int] = Field(default_factory=list)  # line numbers in the new file
    module: str | None = None  # dotted module name for Python files
    # Same AST once formatting, comments and docstrings are normalised: no behaviour changed
    cosmetic: bool = False
    # The added lines inside changed behaviour (None: not compared, all of them count)
    behaviour_lines: list[int] | None = None


class BehaviourNote(BaseModel):
    """One behavioural change: a new/changed/removed function, a branch, an environment or
    configuration read, I/O."""

    path: str
    line: int
    kind: str  # "new function", "changed function", "removed", "branch", "environment", ...
    detail: str


class ModuleName(BaseModel):
    """A module-level assignment the changed code uses (`hookspec = HookspecMarker(...)`)."""

    path: str
    line: int
    source: str


class Symbol(BaseModel):
    name: str
    kind: Literal["class", "function", "method"]
    signature: str
    doc: str = ""  # first docstring line
    line: int = 0


class ModuleSummary(BaseModel):
    module: str
    path: str
    doc: str = ""
    symbols: list[Symbol] = Field(default_factory=list)
    imports: list[str] = Field(default_factory=list)  # the repo's own modules it imports


SeamKind = Literal[
    "import", "http_route", "database", "event", "http_client", "subprocess", "cli_entry"
]


class Seam(BaseModel):
    id: str  # stable, e.g. "http_route:shop/api.py:42"
    kind: SeamKind
    path: str
    line: int
    symbol: str = ""  # enclosing function/class
    detail: str = ""  # e.g. "POST /orders", "shop.payments", "bus.publish('order.paid')"
    changed: bool = False  # on or inside a changed line / function
    changed_lines: int = 0  # changed lines it contains or calls into (its rank)


class ExistingTest(BaseModel):
    path: str
    modules: list[str] = Field(default_factory=list)  # repo modules it imports
    tests: list[str] = Field(default_factory=list)
    excerpt: str = ""
    # the changed functions (`path: qualname`) its passing tests ran (test-impact index)
    runs_change: list[str] = Field(default_factory=list)


class Conventions(BaseModel):
    tests_root: str = "tests"
    pytest_config: str = ""  # the [tool.pytest.ini_options] / pytest.ini text
    # folder -> its own pytest configuration, for the packages of a monorepo the change is in
    package_pytest_configs: dict[str, str] = Field(default_factory=dict)
    fixtures: list[str] = Field(default_factory=list)  # "conftest path: fixture(signature)"
    standards: str = ""  # CONTRIBUTING / coding standards text, trimmed
    standards_path: str = ""


class Context(BaseModel):
    repo: str
    base: str | None = None
    head: str | None = None
    uncommitted: bool = False  # the change includes work not committed in head
    diff: str = ""
    changed: list[ChangedFile] = Field(default_factory=list)
    behaviour: list[BehaviourNote] = Field(default_factory=list)  # what the change does
    module_names: list[ModuleName] = Field(default_factory=list)  # names the changed code uses
    python: str = ""  # the target's Python: interpreter version, requires-python
    modules: list[str] = Field(default_factory=list)  # changed (or requested) modules
    repo_map: list[ModuleSummary] = Field(default_factory=list)
    seams: list[Seam] = Field(default_factory=list)
    existing_tests: list[ExistingTest] = Field(default_factory=list)
    tests_by_execution: bool = False  # the test-impact index said which tests run the change
    failing_tests: list[str] = Field(default_factory=list)  # existing tests failing, per the index
    conventions: Conventions = Field(default_factory=Conventions)
    dropped: list[str] = Field(default_factory=list)  # what the token budget trimmed
    tokens: int = 0  # estimated size of the rendered context


# ---------------------------------------------------------------- model traffic


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "error"
]


class ModelResponse(BaseModel):
    """One assistant turn in the Anthropic Messages format (content blocks as plain dicts)."""

    content: list[dict[str, Any]] = Field(default_factory=list)
    stop_reason: StopReason | str = "end_turn"
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    cost_usd: Decimal = Decimal(0)
    source: Literal["anthropic", "scripted", "function", "replay"] = "anthropic"

    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    def text(self) -> str:
        return "\n".join(b.get("text", "") for b in self.content if b.get("type") == "text")


# ---------------------------------------------------------------- report


# `all_accepted` and `iterations` are only read from reports written before proposal rounds
StopCause = Literal[
    "finish",
    "rounds",
    "turns",
    "tokens",
    "dollars",
    "wall_time",
    "model_error",
    "all_accepted",
    "iterations",
    "trivial_change",  # only formatting, comments, docstrings, release metadata: no model run
]


class AcceptedFile(BaseModel):
    path: str
    content: str
    purpose: str = ""
    written: bool = False


class Report(BaseModel):
    run_id: str
    repo: str
    base: str | None = None
    model: str
    model_source: str  # "anthropic", "scripted", ... said plainly in every rendering
    isolation: IsolationLevel
    iterations: int = 0  # model turns
    rounds: int = 0  # judged proposals
    stopped_by: StopCause
    accepted: list[AcceptedFile] = Field(default_factory=list)
    verdicts: list[FileVerdict] = Field(default_factory=list)  # the last verdict of each file
    usage: Usage = Field(default_factory=Usage)
    cost_usd: Decimal = Decimal(0)
    wall_seconds: float = 0.0
    message: str = ""  # the model's closing summary, or why the run ended
    reused_from: str | None = None  # an earlier run with the same change, context and settings

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kept(self) -> int:
        """Test files kept (accepted, bug-documenting tests included)."""
        return len(self.accepted)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def nothing_to_test(self) -> bool:
        """Nothing in the change to test: the model finished without proposing anything, or the
        change was trivial and no model ran."""
        return self.stopped_by == "trivial_change" or (
            self.stopped_by == "finish" and self.rounds == 0
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kept_tests(self) -> int:
        kept = {a.path for a in self.accepted}
        return sum(
            t.verdict != "rejected" for f in self.verdicts if f.path in kept for t in f.tests
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cache_share(self) -> float:
        """Share of the input tokens read from the prompt cache, over the whole run."""
        u = self.usage
        read = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
        return round(u.cache_read_input_tokens / read, 3) if read else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dollars_per_kept_test(self) -> Decimal | None:
        return (
            (self.cost_usd / self.kept_tests).quantize(Decimal("0.0001"))
            if self.kept_tests
            else None
        )

    @property
    def bugs(self) -> list[TestVerdict]:
        return [t for f in self.verdicts for t in f.tests if t.verdict == "bug"]

    @property
    def rejected(self) -> list[TestVerdict]:
        return [t for f in self.verdicts for t in f.tests if t.verdict == "rejected"]
