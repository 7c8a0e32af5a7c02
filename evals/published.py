"""Published figures the live scorecard is read against, with where they come from.

They are not the same experiment: TestGen-LLM extended Kotlin unit-test classes at Meta and
CoverUp wrote unit tests for Python modules with coverage gaps (line + branch), while itarch
writes integration tests for modules that already have a suite and measures statement coverage
of their function bodies. They say what "good" has looked like, not what to expect here.
"""

from __future__ import annotations

from pydantic import BaseModel

TESTGEN_LLM = (
    'Alshahwan et al., "Automated Unit Test Improvement using Large Language Models at Meta", '
    "FSE 2024 companion (arXiv:2402.09171)"
)
COVERUP = (
    'Pizzorno & Berger, "CoverUp: Coverage-Guided LLM-Based Test Generation", 2024 '
    "(arXiv:2403.16218, v2 and later)"
)


class Figure(BaseModel):
    study: str
    metric: str
    value: float
    ours: str  # the field of our live scores it is set against
    source: str


FIGURES: list[Figure] = [
    Figure(
        study="TestGen-LLM",
        metric="generated test cases that build",
        value=0.75,
        ours="build_rate",
        source=TESTGEN_LLM,
    ),
    Figure(
        study="TestGen-LLM",
        metric="... that pass reliably",
        value=0.57,
        ours="reliable_rate",
        source=TESTGEN_LLM,
    ),
    Figure(
        study="TestGen-LLM",
        metric="... that raise coverage",
        value=0.25,
        ours="accept_rate",
        source=TESTGEN_LLM,
    ),
    Figure(
        study="CoverUp",
        metric="median per-module line+branch coverage",
        value=0.80,
        ours="median_module_coverage",
        source=COVERUP,
    ),
]
