"""`python -m evals run --suite changes [--live] [--strict] [--target NAME ...]`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from agent.config import Settings
from agent.models import claude
from agent.models.base import Model
from evals import changes, changes_card
from evals.changes_targets import select

NO_KEY = (
    "error: --suite changes --live needs ANTHROPIC_API_KEY (without --live the suite replays the "
    "upstream's reference tests and needs no key)"
)


def run_suite(args: argparse.Namespace, *, model_factory: Any = None) -> int:
    """Exit 1 when a change could not be set up or scored; with --strict also when a reference
    test is not judged as the targets file expects; 2 on a usage error (--live without a key)."""
    try:
        specs = select(args.target)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    factory = None
    budget: dict[str, Any] = {}
    if args.live:
        if model_factory is None and not os.environ.get("ANTHROPIC_API_KEY", "").strip():
            print(NO_KEY, file=sys.stderr)
            return 2
        factory = model_factory or claude
        if args.model:
            inner = factory

            def factory(settings: Settings) -> Model:
                return inner(settings.model_copy(update={"model": args.model}))

        if args.max_iterations:
            budget["turns"] = args.max_iterations
        if args.max_dollars:
            budget["dollars"] = args.max_dollars
    result = changes.run_changes(specs, args.cache, model_factory=factory, budget=budget)
    markdown = changes_card.render(result)
    json_path, md_path = result.write(args.out, markdown)
    print(markdown)
    print(f"results: {json_path}\nscorecard: {md_path}", file=sys.stderr)
    if any(c.status != "scored" for c in result.changes):
        return 1
    if args.strict and not all(c.ok for c in result.changes):
        return 1
    return 0
