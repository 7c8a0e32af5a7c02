"""The real upstream changes of the `changes` suite: consecutive releases of PyPI projects.

Base = release N with its tests; change = release N+1's code with N's tests; reference = the
upstream's own new or changed tests of N+1 (`evals/changes_reference.py`). `expect` says, per
reference test, what the judge should find, as written down after reading each change and its
tests: `detects` (passes on the change, fails on the base), `guards` (accepted, passes on both)
or a reason code (rightly rejected for that reason). Patterns are matched (fnmatch) against the
part of the node id after the file, first match wins; every reference test must match one.
`known` lists tests the judge is known to get wrong (each checked by hand to fail on the base):
their mismatch is reported on the scorecard without failing `--strict`.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, Field

from evals.sessions_target import Sdist

# behaviour: the release changes what the code does; refactor: it does not (guards are the
# right tests); mixed: a refactor or cleanup with one behaviour change beside it.
Kind = Literal["behaviour", "refactor", "mixed"]
PYTEST = "pytest==9.2.0"


class ChangeSpec(BaseModel):
    name: str
    kind: Kind
    what: str  # what the release changed, in one line
    base: Sdist
    change: Sdist
    tests_root: str = "tests"
    requirements: list[str] = Field(default_factory=lambda: [PYTEST])
    # Test files compared between the releases (default: test_*.py and *_test.py anywhere).
    test_files: list[str] = Field(default_factory=list)
    # Where a changed test file's reference is proposed (default: `<stem>_upstream.py` beside it).
    proposed_as: dict[str, str] = Field(default_factory=dict)
    # Files of N+1 that the reference tests read (data, not tests), added to both commits.
    bring: list[str] = Field(default_factory=list)
    adapted: list[str] = Field(default_factory=list)  # what was adapted, said in the scorecard
    expect: list[tuple[str, str]] = Field(default_factory=list)  # (pattern, outcome)
    # Known misjudgments of the judge (pattern -> what goes wrong): reported, not failed on.
    known: dict[str, str] = Field(default_factory=dict)

    @property
    def pins(self) -> str:
        return f"{self.base.project} {self.base.version} -> {self.change.version}"

    def digest(self) -> str:
        """What the prepared repository depends on (not the expectations)."""
        built = self.model_dump_json(
            include={"base", "change", "tests_root", "requirements", "bring"}
        )
        return hashlib.sha256(built.encode()).hexdigest()[:16]


def _spec(pins: tuple[str, str, str, str, str], **fields: Any) -> ChangeSpec:
    """A change from (project, release N, its sha256, release N+1, its sha256) and the rest."""
    project, old, old_sha, new, new_sha = pins
    return ChangeSpec(
        base=Sdist(project=project, version=old, sha256=old_sha),
        change=Sdist(project=project, version=new, sha256=new_sha),
        **fields,
    )


CHANGES: dict[str, ChangeSpec] = {
    spec.name: spec
    for spec in [
        _spec(
            name="parse-1.20.1",
            kind="behaviour",
            what="`%f` accepts 1 to 6 digits of a fraction; `Parser.format` property",
            pins=(
                "parse",
                "1.20.0",
                "bd28bae37714b45d5894d77160a16e2be36b64a3b618c81168b3684676aa498b",
                "1.20.1",
                "09002ca350ad42e76629995f71f7b518670bcf93548bdde3684fd55d2be51975",
            ),
            expect=[
                ("test_parser_format", "detects"),
                ("test_datetime_with_various_subsecond_precision", "detects"),
            ],
        ),
        _spec(
            name="pathspec-0.12.1",
            kind="behaviour",
            what="`PathSpec.match_file` returns a bool again, not the pattern's include value",
            pins=(
                "pathspec",
                "0.12.0",
                "c57e16065a97b7beb175f13c84d27cb05f7b7315741c2fbd5de541042f4ea6e1",
                "0.12.1",
                "a482d51503a1ab33b1c67a6c3813a26953dbdc71c31dacaef9a838c4e29f5712",
            ),
            expect=[
                ("PathSpecTest::test_01_match_file_3_unmatch", "detects"),
                ("PathSpecTest::test_01_match_file_[12]_*", "guards"),
                ("PathSpecTest::test_01_check_file_4_many", "redundant"),
                ("PathSpecTest::test_01_match_files", "redundant"),
                ("PathSpecTest::test_01_windows_*", "redundant"),
                # util.match_file and the check_* methods: code the release did not change
                ("*", "misses_change"),
            ],
        ),
        _spec(
            name="termcolor-2.5.0",
            kind="behaviour",
            what="the `strike` attribute; `Iterable` imported from collections.abc",
            pins=(
                "termcolor",
                "2.4.0",
                "aab9e56047c8ac41ed798fa36d892a37aca6b3e9159f3e0c24bc64a9b3ac7b7a",
                "2.5.0",
                "998d8d27da6d48442e8e1f016119076b690d962507531df4890fcd2db2ef8a6f",
            ),
            expect=[("test_attrs?strike-*", "detects"), ("test_attrs*", "redundant")],
        ),
        _spec(
            name="xmltodict-0.14.2",
            kind="behaviour",
            what="whitespace-only text is stripped again in elements without attributes",
            pins=(
                "xmltodict",
                "0.14.1",
                "338c8431e4fc554517651972d62f06958718f6262b04316917008e8fd677a6b0",
                "0.14.2",
                "201e7c28bb210e374999d1dde6382923ab0ed1a8a5faeece48ab525b7810a553",
            ),
            expect=[("*", "detects")],
        ),
        _spec(
            name="sqlparse-0.5.1",
            kind="behaviour",
            what="splitting CASE inside BEGIN, comment stripping keeps whitespace, keyword order",
            pins=(
                "sqlparse",
                "0.5.0",
                "714d0a4932c059d16189f58ef5411ec2287a4360f17cdd0edd2d09d4c5087c93",
                "0.5.1",
                "bb6b4df465655ef332548e24f08e205afc81b9ab86cb1c45657a7ff173a3a00e",
            ),
            bring=["tests/files/multiple_case_in_begin.sql"],
            adapted=[
                "tests/files/multiple_case_in_begin.sql (SQL read by the new split test) is "
                "added to both commits"
            ],
            expect=[
                ("test_parse_order?ASC?", "guards"),
                ("test_parse_order?DESC?", "guards"),
                ("*", "detects"),
            ],
        ),
        _spec(
            name="humanize-4.12.0",
            kind="behaviour",
            what="`i18n.activate(None)` and English locales deactivate translation",
            pins=(
                "humanize",
                "4.11.0",
                "e66f36020a2d5a974c504bd2555cf770621dbdbb6d82f94a6857c0b1ea2608be",
                "4.12.0",
                "87ff7b43591370b12a1d103c9405849d911d4b039ed22d80b718b62c76eec8a3",
            ),
            # its pytest config filters a coverage warning by class, so coverage must import
            requirements=[PYTEST, "freezegun==1.5.5", "pytest-cov==7.1.0"],
            expect=[
                ("TestActivate::test_en_locale", "detects"),
                # skips here: `activate("fr")` finds no catalogue (the sdist ships fr_FR)
                ("TestActivate::test_none_locale", "no_tests"),
            ],
        ),
        _spec(
            name="semver-3.0.2",
            kind="behaviour",
            what="`replace` on a subclass returns the subclass; ClassVar annotations; `to_dict` "
            "builds a dict",
            pins=(
                "semver",
                "3.0.1",
                "9ec78c5447883c67b97f98c3b6212796708191d22e4ad30f4570f840171cbce1",
                "3.0.2",
                "6253adb39c70f6e51afed2fa7152bcd414c411286088fb4b9effb133885ab4cc",
            ),
            requirements=[PYTEST, "pytest-cov==7.1.0", "packaging==25.0"],
            expect=[("test_replace_from_subclass", "detects")],
        ),
        _spec(
            name="jsonpointer-3.0.0",
            kind="refactor",
            what="Python 2 compatibility removed, imports sorted, code reformatted",
            pins=(
                "jsonpointer",
                "2.4",
                "585cee82b70211fa9e6043b7bb89db6e1aa49524340dde8ad6b63206ea689d88",
                "3.0.0",
                "2b2d729f2091522d61c3b31f82e11870f60b68f43fbc705cb76bf4b832af59ef",
            ),
            tests_root=".",
            test_files=["tests.py"],
            proposed_as={"tests.py": "test_jsonpointer_upstream.py"},
            adapted=[
                "its tests live in `tests.py` at the top, which pytest collects only when named; "
                "the reference is proposed as `test_jsonpointer_upstream.py` (tests root `.`)"
            ],
            # reformatted copies of tests the repository already has
            expect=[("*", "redundant")],
        ),
        _spec(
            name="cssselect-1.3.0",
            kind="refactor",
            what="code formatted with ruff, %-formatting turned into f-strings, annotations "
            "modernised, a deprecated private helper removed",
            pins=(
                "cssselect",
                "1.2.0",
                "666b19839cfaddb9ce9d36bfe4c969132c647b92fc9088c4e23f786b30f1b3dc",
                "1.3.0",
                "57f8a99424cfab289a1b6a816a43075a4b00948c86b4dcf3ef4ee7e15f7ab0c7",
            ),
            requirements=[PYTEST, "lxml==5.3.1"],
            expect=[
                ("TestCssselect::test_pseudo_elements", "guards"),
                # reformatted, or edited only where Python 2 needed it: the existing tests' checks
                ("*", "redundant"),
            ],
        ),
        _spec(
            name="xmltodict-0.14.0",
            kind="mixed",
            what="Python 2 compatibility removed (refactor); `unparse` takes an int indent; "
            "`item_depth` counts from the element itself",
            pins=(
                "xmltodict",
                "0.13.0",
                "341595a488e3e01a85a9d8911d8912fd922ede5fecc4dce437eb4b6c8d037e56",
                "0.14.0",
                "8b39b25b564fd466be566c9e8a869cc4b5083c2fec7f98665f47bf0853f6cc77",
            ),
            expect=[
                # a Python 2 guard removed: the same check as the existing test's
                ("DictToXMLTestCase::test_attr_order_roundtrip", "redundant"),
                ("DictToXMLTestCase::test_short_empty_elements", "redundant"),
                ("XMLToDictTestCase::test_encoded_string", "redundant"),
                ("XMLToDictTestCase::test_unicode", "guards"),
                ("*", "detects"),
            ],
        ),
    ]
}


def select(names: list[str] | None) -> list[ChangeSpec]:
    unknown = [n for n in names or [] if n not in CHANGES]
    if unknown:
        raise KeyError(f"unknown change {', '.join(unknown)} (known: {', '.join(CHANGES)})")
    return [CHANGES[n] for n in names or list(CHANGES)]
