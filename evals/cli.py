"""`python -m evals run`: run a suite, write `evals/results/<date>-<suite>.json` and a Markdown
scorecard next to it, and print the scorecard.

    python -m evals run                               # the offline suite on every target
    python -m evals run --suite offline --target shop
    python -m evals run --suite live --model claude-sonnet-4-5 --max-dollars 1
    python -m evals run --suite replay --from evals/results/2025-01-01-live.json
    python -m evals run --suite compat                # itarch check on real projects' own tests
    python -m evals run --suite sessions --strict     # recorded sessions replayed through itarch
    python -m evals run --suite changes --strict      # real release changes, reference replayed
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

from agent.config import Settings
from agent.log import configure, get_logger
from agent.models import claude
from evals import (
    changes_cli,
    compat,
    compat_card,
    corpus,
    live,
    offline,
    replay,
    scorecard,
    sessions,
    sessions_card,
)
from evals.changes_targets import CHANGES
from evals.compat_targets import COMPAT_TARGETS, select_compat
from evals.prepare import prepare
from evals.results import SuiteResult
from evals.targets import TARGETS, TargetSpec, select_targets

log = get_logger(__name__)

HERE = Path(__file__).resolve().parent
# CI may keep the cache outside its fresh clone: EVALS_CACHE_DIR overrides the default.
DEFAULT_CACHE = Path(os.environ.get("EVALS_CACHE_DIR") or HERE / "cache")
DEFAULT_OUT = HERE / "results"
NO_KEY = (
    "live suite skipped: ANTHROPIC_API_KEY is not set (the offline suite needs no key: "
    "python -m evals run --suite offline)"
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m evals", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a suite and write its scorecard")
    run.add_argument(
        "--suite",
        choices=["offline", "live", "replay", "compat", "sessions", "changes"],
        default="offline",
    )
    run.add_argument(
        "--target",
        nargs="+",
        metavar="NAME",
        help=f"targets to run ({', '.join(TARGETS)}; compat: {', '.join(COMPAT_TARGETS)}; "
        f"sessions: {', '.join(sessions.available())}; changes: {', '.join(CHANGES)})",
    )
    run.add_argument(
        "--live",
        action="store_true",
        help="changes suite: Claude writes the tests too (needs ANTHROPIC_API_KEY)",
    )
    run.add_argument("--model", help="Claude model id for the live suite")
    run.add_argument("--from", dest="source", type=Path, help="results file of a live run (replay)")
    run.add_argument("--max-iterations", type=int, help="model turns per target (live)")
    run.add_argument("--max-dollars", type=Decimal, help="spend limit per target in USD (live)")
    run.add_argument("--jobs", type=int, default=2, help="targets run at once (offline, compat)")
    run.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="sdists, repos, venvs")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results are written")
    run.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when the judge misjudges any case (compat: when a project is below the "
        "pass mark or shows a traceback; sessions: when a session does not end by finish with "
        "a file written)",
    )
    run.add_argument("-v", "--verbose", action="count", default=0, help="more log lines")
    cases = sub.add_parser("corpus", help="write every case of the judge's corpus, to read them")
    cases.add_argument("--target", nargs="+", metavar="NAME")
    cases.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    cases.add_argument("--out", type=Path, required=True, help="folder to write the cases into")
    cases.add_argument("-v", "--verbose", action="count", default=0)
    return top


def main(argv: list[str] | None = None, *, model_factory: live.ModelFactory | None = None) -> int:
    args = parser().parse_args(argv)
    configure(args.verbose)
    if args.command == "run" and args.suite == "compat":
        return run_compat_suite(args)
    if args.command == "run" and args.suite == "sessions":
        return run_sessions_suite(args)
    if args.command == "run" and args.suite == "changes":
        return changes_cli.run_suite(args, model_factory=model_factory)
    try:
        specs = select_targets(args.target)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.command == "corpus":
        return write_corpus(specs, args.cache, args.out)
    if args.suite == "offline":
        result = offline.run_offline(specs, args.cache, jobs=args.jobs)
    elif args.suite == "live":
        if model_factory is None and not os.environ.get("ANTHROPIC_API_KEY", "").strip():
            print(NO_KEY, file=sys.stderr)
            return 0
        budget = {"iterations": args.max_iterations, "dollars": args.max_dollars}
        result = live.run_live(
            specs,
            args.cache,
            model_factory or claude,
            model=args.model,
            budget={k: v for k, v in budget.items() if v is not None},
        )
    else:
        if args.source is None:
            print(
                "error: --suite replay needs --from RESULTS (a live run's results file)",
                file=sys.stderr,
            )
            return 2
        try:
            recorded = replay.load(args.source)
        except (OSError, ValueError) as exc:
            print(f"error: cannot replay {args.source}: {exc}", file=sys.stderr)
            return 2
        result = replay.run_replay(recorded, args.source, args.cache)
    return _finish(result, args.out, strict=args.strict)


def run_compat_suite(args: argparse.Namespace) -> int:
    """Exit 1 when a project could not be set up; with --strict also when any falls short."""
    try:
        specs = select_compat(args.target)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    result = compat.run_compat(specs, args.cache, jobs=args.jobs)
    markdown = compat_card.render(result)
    json_path, md_path = result.write(args.out, markdown)
    print(markdown)
    print(f"results: {json_path}\nscorecard: {md_path}", file=sys.stderr)
    if any(p.status != "scored" for p in result.projects):
        return 1
    if args.strict and not all(p.passes for p in result.projects):
        return 1
    return 0


def run_sessions_suite(args: argparse.Namespace) -> int:
    """Exit 1 when a session could not be replayed; with --strict also when one ends badly."""
    try:
        chosen = sessions.select(args.target)
    except (KeyError, OSError, ValueError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    result = sessions.run_sessions(chosen, args.cache)
    markdown = sessions_card.render(result)
    json_path, md_path = result.write(args.out, markdown)
    print(markdown)
    print(f"results: {json_path}\nscorecard: {md_path}", file=sys.stderr)
    if any(s.status != "replayed" for s in result.sessions):
        return 1
    if args.strict and not all(s.ends_well for s in result.sessions):
        return 1
    return 0


def write_corpus(specs: list[TargetSpec], cache: Path, out: Path) -> int:
    """`<out>/<target>/<case>.py` for every case, and `cases.json` saying what each should get."""
    for spec in specs:
        prepared = prepare(spec, cache)
        made, skipped = corpus.cases(prepared, rounds=_default_reruns(), network_isolated=True)
        folder = out / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        for case in made:
            (folder / f"{case.name}.py").write_text(case.content, encoding="utf-8")
        manifest = [c.model_dump(exclude={"content"}) for c in made]
        manifest += [s.model_dump() | {"skipped": True} for s in skipped]
        (folder / "cases.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        print(f"{spec.name}: {len(made)} cases in {folder}")
    return 0


def _default_reruns() -> int:
    reruns: int = Settings.model_fields["reruns"].default
    return reruns


def _finish(result: SuiteResult, out: Path, *, strict: bool) -> int:
    markdown = scorecard.render(result)
    json_path, md_path = result.write(out, markdown)
    print(markdown)
    print(f"results: {json_path}\nscorecard: {md_path}", file=sys.stderr)
    targets = result.offline or result.live
    if any(t.status == "failed" for t in targets):
        return 1
    if result.suite == "replay" and not result.identical:
        return 1
    if strict and any(
        t.status != "scored" or t.accuracy.correct != t.accuracy.cases for t in result.offline
    ):
        return 1
    return 0
