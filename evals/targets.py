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


class TargetSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["example", "sdist"]
    seams: str = Field(description="What the held-out tests integrate, in a few words.")
    package: str = Field(description="The import name of the project's package.")
    tests_root: str = "tests"
    heldout: tuple[str, ...] = Field(description="Test files removed and proposed back.")
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

    @property
    def sdist_pin(self) -> str:
        return f"{self.project}=={self.version}"

    def digest(self) -> str:
        """Changes whenever anything that decides the prepared repository or venv changes."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


SHOP = TargetSpec(
    name="shop",
    kind="example",
    seams="HTTP API + bearer-token auth + SQLite repository",
    package="shop",
    heldout=("tests/test_api.py",),
    modules=("shop.api", "shop.auth"),
    redundant_source="tests/test_auth.py::test_token_round_trips_the_username",
    # The example's history: the service, then discount codes; the hold-out commit is on top.
    change_base="HEAD~2",
    unchanged_test="tests/test_api.py::test_login_returns_a_token",
)

FLASK_SQLALCHEMY = TargetSpec(
    name="flask-sqlalchemy",
    kind="sdist",
    seams="Flask app context + SQLAlchemy session + 404 responses",
    package="flask_sqlalchemy",
    heldout=("tests/test_view_query.py",),
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
    heldout=("tests/test_csrf_form.py",),
    modules=("flask_wtf.csrf", "flask_wtf.form"),
    redundant_source="tests/test_csrf_extension.py::test_render_token",
    project="flask-wtf",
    version="1.3.0",
    sha256="61d5dabc50c3df885c297dcbd80810443a5d632106c8a69cab8ce740f0cdd7cc",
    requirements=("flask==3.1.3", "werkzeug==3.1.9", "wtforms==3.3.2", "pytest==9.2.0"),
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

TARGETS: dict[str, TargetSpec] = {
    t.name: t for t in (SHOP, FLASK_SQLALCHEMY, FLASK_WTF, MARSHMALLOW_SQLALCHEMY)
}


def select_targets(names: list[str] | None) -> list[TargetSpec]:
    """The named targets (all when none are named); an unknown name is the caller's error."""
    if not names:
        return list(TARGETS.values())
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise KeyError(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    return [TARGETS[n] for n in names]
