"""What `itarch review` reports: per module, its seams and the existing tests that execute them,
what no test executes, and which existing tests are weak. The field names of `ReviewResult`,
`ModuleReview`, `SeamCoverage` and `WeakTest` are read by outside tools: keep them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.schema import IsolationLevel, Reason, SeamKind


class SeamCoverage(BaseModel):
    id: str  # the seam id every command uses: "http_route:shop/api.py:112"
    kind: SeamKind
    detail: str = ""
    symbol: str = ""
    line: int = 0
    lines: int = 0  # lines of code behind it (the body of the function that holds it)
    tests: list[str] = Field(default_factory=list)  # node ids of the tests that execute it


class UntestedFunction(BaseModel):
    name: str  # "OrderService.cancel_order"
    line: int
    lines: int  # lines of code in it: the rank


class ErrorPath(BaseModel):
    id: str  # "raise:shop/orders.py:57"
    kind: str  # "except" | "raise" | "status" | "rollback"
    path: str
    line: int
    detail: str  # "raise OutOfStock(...)", "except (KeyError, TypeError)", "return 401"
    function: str  # the function holding it
    seams: list[str] = Field(default_factory=list)  # the seams in that function


class WeakTest(BaseModel):
    nodeid: str
    reason: Reason
    detail: str


class ModuleReview(BaseModel):
    module: str
    path: str = ""
    tests: list[str] = Field(default_factory=list)  # the tests that execute any of its lines
    seams: list[SeamCoverage] = Field(default_factory=list)
    untested_seams: list[str] = Field(default_factory=list)  # ids, most code behind first
    untested_functions: list[UntestedFunction] = Field(default_factory=list)
    weak_tests: list[WeakTest] = Field(default_factory=list)
    untested_error_paths: list[ErrorPath] = Field(default_factory=list)


class ReviewResult(BaseModel):
    repo: str
    modules: list[ModuleReview] = Field(default_factory=list)
    test_files: list[str] = Field(default_factory=list)  # the existing test files that ran
    tests_run: int = 0
    isolation: IsolationLevel = IsolationLevel.PROCESS
    reruns: int = 0
    mutation: bool = False
    skipped: list[str] = Field(default_factory=list)  # what was not done, and why
    seconds: float = 0.0

    @property
    def gaps(self) -> int:
        return sum(len(m.untested_seams) + len(m.untested_error_paths) for m in self.modules)
