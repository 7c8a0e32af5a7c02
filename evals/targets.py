"""The repositories the evaluation runs on, and which of their own tests it holds out.

Each target is a real project with seams between its parts (an app and its database, a request
and its session, a schema and an ORM session) and a test suite of its own. The held-out files are
removed from the target's repository; the offline suite proposes them back (verbatim and broken)
and the live suite asks Claude to write tests for the modules they covered.

Third-party targets are PyPI sdists at pinned versions and hashes, installed with pinned test
dependencies, so a scorecard from one machine is comparable with one from another.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KnownRejection(BaseModel):
    """An upstream test the judge rightly turns away, though it ships in a green suite: its
    verbatim file is scored right when exactly these tests are rejected, for these reasons."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    test: str  # `path::Class::test` (parameters folded)
    reason: str  # the reason code
    why: str


class TargetSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["example", "sdist"]
    seams: str = Field(description="What the held-out tests integrate, in a few words.")
    package: str = Field(description="The import name of the project's package.")
    tests_root: str = "tests"
    heldout: tuple[str, ...] = Field(description="Test files removed and proposed back.")
    # Which held-out files the broken variants are made from (empty: every one). The others are
    # proposed back only verbatim, all of them in one proposal: positive cases, one per file.
    broken: tuple[str, ...] = ()
    # The reason codes of the variants built (empty: one variant per reason).
    variants: tuple[str, ...] = ()
    known_rejections: tuple[KnownRejection, ...] = ()
    modules: tuple[str, ...] = Field(description="Dotted modules the held-out files cover.")
    redundant_source: str = Field(
        description="`path::test` of an existing test whose copy is the `redundant` variant."
    )
    # Targets with a real change in their history also get the `misses_change` case: a held-out
    # test that exercises none of the change, proposed for the diff from `change_base`.
    change_base: str = ""  # a revision of the prepared repository
    unchanged_test: str = ""  # `path::test` of a held-out test that misses that change
    # sdist targets only
    project: str = ""  # the PyPI project name
    version: str = ""
    sha256: str = ""  # of the sdist archive
    requirements: tuple[str, ...] = ()  # pinned test dependencies, installed next to the project
    # Where the venv lives: next to the repository, or inside it as `.venv` (git-ignored), the way
    # most users set a project up.
    venv_in_repo: bool = False

    @property
    def sdist_pin(self) -> str:
        return f"{self.project}=={self.version}"

    def broken_files(self) -> tuple[str, ...]:
        return self.broken or self.heldout

    def digest(self) -> str:
        """Changes whenever anything that decides the prepared repository or venv changes.

        Fields left at their defaults are not part of it, so adding a field does not rebuild
        every target."""
        text = json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


SHOP = TargetSpec(
    name="shop",
    kind="example",
    seams="HTTP API + bearer-token auth + SQLite repository",
    package="shop",
    heldout=("tests/test_api.py", "tests/test_auth.py"),
    broken=("tests/test_api.py",),
    modules=("shop.api", "shop.auth"),
    redundant_source="tests/integration/test_order_placement.py::"
    "test_placed_order_is_listed_and_reserves_stock",
    # The example's history: the service, then discount codes; the hold-out commit is on top.
    # The discount change reaches every module the API's tests run (a schema, an error table,
    # imports: lines that run at import); a token test runs none of it.
    change_base="HEAD~2",
    unchanged_test="tests/test_auth.py::test_token_round_trips_the_username",
)

FLASK_SQLALCHEMY = TargetSpec(
    name="flask-sqlalchemy",
    kind="sdist",
    seams="Flask app context + SQLAlchemy session + 404 responses",
    package="flask_sqlalchemy",
    heldout=(
        "tests/test_view_query.py",
        # Positive cases only: proposed back verbatim (test_engine and test_model_name, the two
        # biggest, stay in the suite with test_pagination, whose test the `redundant` case copies).
        "tests/test_cli.py",
        "tests/test_extension_object.py",
        "tests/test_legacy_query.py",
        "tests/test_metadata.py",
        "tests/test_model.py",
        "tests/test_model_bind.py",
        "tests/test_record_queries.py",
        "tests/test_session.py",
        "tests/test_table_bind.py",
        "tests/test_track_modifications.py",
    ),
    broken=("tests/test_view_query.py",),
    modules=("flask_sqlalchemy.extension", "flask_sqlalchemy.pagination"),
    redundant_source="tests/test_pagination.py::test_paginate",
    project="flask-sqlalchemy",
    version="3.1.1",
    sha256="e4b68bb881802dda1a7d878b2fc84c06d1ee57fb40b874d3dc97dabfa36b8312",
    # SQLAlchemy as of the release: 2.0.24+ warns (and the suite treats warnings as errors).
    requirements=("flask==3.0.3", "werkzeug==3.0.6", "sqlalchemy==2.0.23", "pytest==9.2.0"),
)

FLASK_WTF = TargetSpec(
    name="flask-wtf",
    kind="sdist",
    seams="Flask request + session + CSRF token validation",
    package="flask_wtf",
    heldout=(
        "tests/test_csrf_form.py",
        "tests/test_file.py",  # positive cases only
        "tests/test_form.py",
        "tests/test_recaptcha.py",
    ),
    broken=("tests/test_csrf_form.py",),
    modules=("flask_wtf.csrf", "flask_wtf.form"),
    redundant_source="tests/test_csrf_extension.py::test_render_token",
    project="flask-wtf",
    version="1.3.0",
    sha256="61d5dabc50c3df885c297dcbd80810443a5d632106c8a69cab8ce740f0cdd7cc",
    # flask-reuploaded: from the project's own test dependency group; without it two tests of
    # tests/test_file.py skip (`importorskip("flask_uploads")`).
    requirements=(
        "flask==3.1.3",
        "werkzeug==3.1.9",
        "wtforms==3.3.2",
        "flask-reuploaded==1.6.0",
        "pytest==9.2.0",
    ),
)

MARSHMALLOW_SQLALCHEMY = TargetSpec(
    name="marshmallow-sqlalchemy",
    kind="sdist",
    seams="marshmallow schemas + SQLAlchemy ORM session (load_instance)",
    package="marshmallow_sqlalchemy",
    heldout=("tests/test_sqlalchemy_schema.py",),
    modules=("marshmallow_sqlalchemy.schema", "marshmallow_sqlalchemy.load_instance_mixin"),
    redundant_source="tests/test_conversion.py::TestModelFieldConversion::test_fields_for_model_types",
    project="marshmallow-sqlalchemy",
    version="1.6.0",
    sha256="adebc7e36a7ec5662de93b00b850b50e36f4e8fe67ccf6e9e8e5ff42a78b1696",
    requirements=(
        "marshmallow==4.4.0",
        "sqlalchemy==2.1.9",
        "pytest-lazy-fixtures==1.4.1",
        "pytest==9.2.0",
    ),
)

# Set up as most users set a project up: `.venv` inside the repository, git-ignored. Every test
# file but one or two is held out: a positive case each. Variants are made from one file, only
# for a few reasons each (the unittest-style suites assert with `self.assert*` calls, which the
# `fails` and `no_assertions` variants do not rewrite).
FLASK_HTTPAUTH = TargetSpec(
    name="flask-httpauth",
    kind="sdist",
    seams="Flask routes + Basic/Digest/Token auth callbacks + roles (sync and async views)",
    package="flask_httpauth",
    heldout=(
        "tests/test_token.py",
        "tests/test_basic_custom_realm.py",
        "tests/test_basic_hashed_password.py",
        "tests/test_basic_verify_password.py",
        "tests/test_basic_verify_password_async.py",
        "tests/test_digest_custom_realm.py",
        "tests/test_digest_get_password.py",
        "tests/test_digest_ha1_password.py",
        "tests/test_digest_no_qop.py",
        "tests/test_error_responses.py",
        "tests/test_multi.py",
        "tests/test_multi_async.py",
        "tests/test_roles.py",
        "tests/test_roles_async.py",
        "tests/test_token_async.py",
    ),
    broken=("tests/test_token.py",),
    variants=("side_effect", "flaky", "redundant"),
    modules=("flask_httpauth",),
    redundant_source="tests/test_basic_get_password.py::HTTPAuthTestCase::test_basic_auth_login_valid",
    project="flask-httpauth",
    version="4.8.1",
    sha256="88499b22f1353893743c3cd68f2ca561c4ad9ef75cd6bcc7f621161cd0e80744",
    requirements=("flask==3.1.3", "werkzeug==3.1.9", "asgiref==3.13.0", "pytest==9.2.0"),
    venv_in_repo=True,
)

FLASK_CORS = TargetSpec(
    name="flask-cors",
    kind="sdist",
    seams="Flask app/blueprint/route + CORS decorator and extension + response headers",
    package="flask_cors",
    heldout=(
        "tests/decorator/test_origins.py",
        "tests/core/test_override_headers.py",
        "tests/decorator/test_allow_headers.py",
        "tests/decorator/test_credentials.py",
        "tests/decorator/test_duplicate_headers.py",
        "tests/decorator/test_exception_interception.py",
        "tests/decorator/test_expose_headers.py",
        "tests/decorator/test_max_age.py",
        "tests/decorator/test_methods.py",
        "tests/decorator/test_options.py",
        "tests/decorator/test_private_network_headers.py",
        "tests/decorator/test_vary_header.py",
        "tests/decorator/test_w3.py",
        "tests/extension/test_app_extension.py",
        "tests/extension/test_blueprint.py",
    ),
    broken=("tests/decorator/test_origins.py",),
    variants=("flaky", "error"),
    modules=("flask_cors.core", "flask_cors.decorator", "flask_cors.extension"),
    known_rejections=(
        KnownRejection(
            test="tests/decorator/test_exception_interception.py::"
            "NoExceptionInterceptionTestCase::test_acl_uncaught_exception_500",
            reason="no_tests",
            why="skipped unconditionally upstream (`@unittest.skip`: Flask 1.1 changed the "
            "behaviour it tested): a test that never runs proves nothing",
        ),
    ),
    redundant_source="tests/core/test_helpers.py::InternalsTestCase::test_try_match_pattern",
    project="flask-cors",
    version="6.0.5",
    sha256="30c5031552cd59f620ac0c8211dac45b345d3b2df310e7721879e4f46ef9c601",
    requirements=("flask==3.1.3", "werkzeug==3.1.9", "pytest==9.2.0"),
    venv_in_repo=True,
)

CLOUP = TargetSpec(
    name="cloup",
    kind="sdist",
    seams="click commands and groups + option groups, constraints, sections + help formatting",
    package="cloup",
    heldout=(
        "tests/test_option_groups.py",
        "tests/test_aliases.py",
        "tests/test_commands.py",
        "tests/test_context.py",
        "tests/test_formatting.py",
        "tests/test_sections.py",
        "tests/test_sep.py",
        "tests/test_styling.py",
        "tests/test_types.py",
        "tests/test_typing.py",
        "tests/constraints/test_common.py",
        "tests/constraints/test_conditional_constraints.py",
        "tests/constraints/test_constraints.py",
        "tests/constraints/test_support.py",
    ),
    broken=("tests/test_option_groups.py",),
    variants=("fails", "no_assertions", "order_dependent"),
    known_rejections=(
        KnownRejection(
            test="tests/test_formatting.py::test_settings_signature_matches_HelpFormatter",
            reason="redundant",
            why="compares two signatures with `inspect` and runs none of the package's code: "
            "the judge keeps only tests that run the modules under test",
        ),
        KnownRejection(
            test="tests/test_styling.py::"
            "test_help_theme_copy_with_takes_the_same_parameters_of_constructor",
            reason="redundant",
            why="compares two signatures with `inspect` and runs none of the package's code",
        ),
        KnownRejection(
            test="tests/test_styling.py::test_unsupported_style_args_are_ignored_in_click_7",
            reason="no_assertions",
            why="one call, `Style(overline=True, italic=True, strikethrough=True)`, and no check: "
            "it fails only if the call raises, which neither its name nor a docstring says",
        ),
        KnownRejection(
            test="tests/test_styling.py::test_style_is_hashable_after_calling",
            reason="no_assertions",
            why="calls `hash(s)` twice and checks nothing else; only a comment (`# no "
            "exception`) says that not raising is the point, and comments are not read",
        ),
        KnownRejection(
            test="tests/constraints/test_constraints.py::"
            "test_a_constraint_can_be_copied_and_deep_copied",
            reason="no_assertions",
            why="calls `copy.copy` and `copy.deepcopy` and checks nothing: it fails only if "
            "they raise, which neither its name nor a docstring says",
        ),
    ),
    # Every module: the held-out files test all of them (a test of none is off-target).
    modules=(
        "cloup._commands",
        "cloup._context",
        "cloup._option_groups",
        "cloup._params",
        "cloup._sections",
        "cloup._util",
        "cloup.constraints._conditional",
        "cloup.constraints._core",
        "cloup.constraints._support",
        "cloup.constraints.common",
        "cloup.constraints.conditions",
        "cloup.constraints.exceptions",
        "cloup.formatting._formatter",
        "cloup.formatting._util",
        "cloup.formatting.sep",
        "cloup.styling",
        "cloup.types",
        "cloup.warnings",
    ),
    redundant_source="tests/test_util.py::test_coalesce",
    project="cloup",
    version="4.0.0",
    sha256="83b0870ee863bcc85129e40e1b208bcfdebe4cd2142e9ce1d0daf7d276cab038",
    requirements=("click==8.5.1", "typing-extensions==4.16.0", "pytest==9.2.0"),
    venv_in_repo=True,
)

DOMINATE = TargetSpec(
    name="dominate",
    kind="sdist",
    seams="HTML/SVG tag tree + context-manager and decorator building + document rendering",
    package="dominate",
    heldout=(
        "tests/test_html.py",
        "tests/test_document.py",
        "tests/test_dom1core.py",
        "tests/test_dom_tag.py",
        "tests/test_dom_tag_async.py",
        "tests/test_svg.py",
    ),
    broken=("tests/test_html.py",),
    variants=("flaky", "no_assertions"),
    modules=(
        "dominate.dom_tag",
        "dominate.document",
        "dominate.dom1core",
        "dominate.svg",
        "dominate.tags",
        "dominate.util",
    ),
    redundant_source="tests/test_utils.py::test_container",
    project="dominate",
    version="2.9.1",
    sha256="558284687d9b8aae1904e3d6051ad132dd4a8c0cf551b37ea4e7e42a31d19dc4",
    requirements=("pytest==9.2.0",),
    venv_in_repo=True,
)

TARGETS: dict[str, TargetSpec] = {
    t.name: t
    for t in (
        SHOP,
        FLASK_SQLALCHEMY,
        FLASK_WTF,
        MARSHMALLOW_SQLALCHEMY,
        FLASK_HTTPAUTH,
        FLASK_CORS,
        CLOUP,
        DOMINATE,
    )
}


def select_targets(names: list[str] | None) -> list[TargetSpec]:
    """The named targets (all when none are named); an unknown name is the caller's error."""
    if not names:
        return list(TARGETS.values())
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise KeyError(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    return [TARGETS[n] for n in names]
