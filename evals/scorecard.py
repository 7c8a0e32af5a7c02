"""The scorecard: one Markdown document per results file, also printed as the run's table."""

from __future__ import annotations

from decimal import Decimal

from evals.published import FIGURES
from evals.results import LiveTarget, OfflineTarget, SuiteResult
from evals.scores import REASON_ORDER, Generation, Recovery, median_module_coverage, merge_accuracy

_SOURCE_LABEL = {
    "anthropic": "Claude (Anthropic API)",
    "replay": "a replay of recorded Claude responses",
    "scripted": "a scripted stand-in (not a model)",
    "function": "a function stand-in (not a model)",
}


def render(result: SuiteResult) -> str:
    head = [
        f"# itarch evaluation: {result.suite} suite, {result.date}",
        "",
        f"itarch {result.itarch} · Python {result.python} · {result.machine} · "
        f"{result.wall_seconds:.0f} s wall",
        "",
    ]
    if result.suite == "offline":
        return "\n".join(head + _offline(result.offline)) + "\n"
    body = _live(result.live)
    if result.suite == "replay":
        verdict = "identical" if result.identical else "DIFFERENT"
        body = [
            f"Replay of `{result.replay_of}`: the scores are **{verdict}** to the recorded run.",
            *(f"- {d}" for d in result.differences),
            "",
            *body,
        ]
    return "\n".join(head + body) + "\n"


# ---------------------------------------------------------------- offline


def _offline(targets: list[OfflineTarget]) -> list[str]:
    scored = [t for t in targets if t.status == "scored"]
    positives = sum(1 for t in scored for c in t.cases if c.name == "verbatim")
    negatives = sum(1 for t in scored for c in t.cases if c.name != "verbatim")
    out = [
        "Each target's own held-out test files are proposed back through the real loop "
        "(`agent.pipeline.generate`) by a scripted stand-in: verbatim (positive cases, which "
        "should be accepted) and, for one file per target, as broken variants, one per reason "
        "the judge gives (negative cases, each to be rejected with its reason).",
        "",
        "How cases are counted: **one case per file**. A verbatim file is one positive case "
        "however many tests it holds; it is right when every test in it is accepted, except "
        "the known rejections listed below (upstream tests the judge rightly turns away), which "
        "must be rejected for their reason. All verbatim files of a target are judged in one "
        "proposal (one `check`). A variant is one negative case: right when the test it breaks "
        "is rejected for the reason its defect calls for.",
        "",
        f"Positive cases: **{positives}**; negative cases: **{negatives}**.",
        "",
        "## Judge accuracy",
        "",
        "| target | version | seams | isolation | positives (files) | negatives | cases | "
        "correct | false accepts | false rejects | wrong reason |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        if t.status != "scored":
            out.append(
                f"| {t.target.name} | {t.target.version or '-'} | {t.target.seams} | "
                f"{t.target.isolation or '-'} | not scored: {t.message} |||||||"
            )
            continue
        a = t.accuracy
        pos = sum(1 for c in t.cases if c.name == "verbatim")
        out.append(
            f"| {t.target.name} | {t.target.version or 'example'} | {t.target.seams} | "
            f"{t.target.isolation} | {pos} | {a.cases - pos} | {a.cases} | {a.correct} | "
            f"{a.false_accepts} | {a.false_rejects} | {a.wrong_reason} |"
        )
    total = merge_accuracy([t.accuracy for t in scored])
    out.append(
        f"| **all** | | | | {positives} | {negatives} | {total.cases} | {total.correct} | "
        f"{total.false_accepts} | {total.false_rejects} | {total.wrong_reason} |"
    )
    out += ["", *_confusion(total.confusion), ""]
    wrong = [(t.target.name, c) for t in scored for c in t.cases if not c.correct]
    out += ["## Misjudged cases", ""]
    if wrong:
        out += [
            "| target | case | expected | actual | rejected tests | the judge said |",
            "|---|---|---|---|---|---|",
            *(
                f"| {name} | {c.name} `{c.path}`: {c.description} | {c.expected} | {c.actual} | "
                f"{_cell(', '.join(f'{t} ({r})' for t, r in c.rejected.items()))} | "
                f"{_cell(c.detail)} |"
                for name, c in wrong
            ),
        ]
    else:
        out.append("None: every case got the verdict and the reason it should.")
    known = [(t.target.name, k) for t in targets for k in t.target.known_rejections]
    if known:
        out += ["", "Known rejections (upstream tests the judge rightly turns away):", ""]
        out += [f"- {name}: `{k.test}`: {k.reason}: {k.why}" for name, k in known]
    skipped = [(t.target.name, s) for t in scored for s in t.skipped]
    if skipped:
        out += ["", "Variants that do not apply:", ""]
        out += [f"- {name}: {s.name} ({s.heldout}): {s.why}" for name, s in skipped]
    out += [
        "",
        "## Recovery: baseline + accepted held-out file, against the full suite",
        "",
        "Measured for the held-out file the variants are made from: the full suite is the "
        "baseline plus that file (files held out only as positive cases are not measured); "
        "the baseline is the suite without any held-out file.",
        "",
    ]
    out += _recovery_table([(t.target.name, t.recovery) for t in scored])
    out += ["", "## Time", ""]
    out += [
        "Runs: the pipeline runs' wall time. Overhead: all of it that is not the tests "
        "themselves (set-up, call, teardown) or the model; it splits into pytest processes "
        "(sandbox and interpreter start-up, collection, results) and itarch's own process "
        "(context, judging, journal). Set-up and the full-suite measurement are cached.",
        "",
        "| target | cache | set-up | full-suite measurement | runs | tests | model | "
        "overhead | ... in pytest processes | ... in itarch | sandbox runs | judge gates |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in scored:
        tm = t.timing
        gates = ", ".join(f"{g} {s:.0f}s" for g, s in sorted(tm.gates.items()) if s >= 0.5)
        out.append(
            f"| {t.target.name} | {'warm' if tm.warm else 'cold'} | "
            f"{sum(tm.setup.values()) if not tm.warm else 0:.0f} s | {tm.reference:.0f} s | "
            f"{tm.wall:.0f} s | {tm.tests:.0f} s | {tm.model:.1f} s | {tm.overhead:.0f} s | "
            f"{max(0.0, tm.pytest - tm.tests):.0f} s | {tm.in_process:.1f} s | "
            f"{tm.sandbox_runs} | {gates} |"
        )
    notes = [(t.target.name, n) for t in targets for n in t.target.notes]
    if notes:
        out += ["", "Notes:", "", *(f"- {name}: {n}" for name, n in notes)]
    return out


def _confusion(confusion: dict[str, dict[str, int]]) -> list[str]:
    order = ["accepted", "bug", *REASON_ORDER, "rejected", "missing"]
    rows = [r for r in order if r in confusion]
    seen = {a for row in confusion.values() for a in row}
    cols = [c for c in order if c in seen or c in confusion]
    out = [
        "Confusion matrix, all targets (rows: expected; columns: actual)",
        "",
        "| expected \\ actual | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for r in rows:
        cells = [str(confusion[r].get(c, "")) for c in cols]
        cells = [f"**{v}**" if c == r and v else v for c, v in zip(cols, cells, strict=True)]
        out.append(f"| {r} | " + " | ".join(cells) + " |")
    return out


def _recovery_table(rows: list[tuple[str, Recovery | None]]) -> list[str]:
    out = [
        "| target | statements | covered: full / baseline / with accepted | coverage ratio | "
        "lost lines regained | mutants | killed: full / baseline / with accepted | "
        "mutation ratio |",
        "|---|---:|---|---:|---|---:|---|---:|",
    ]
    for name, r in rows:
        if r is None:
            out.append(f"| {name} | not measured |||||||")
            continue
        out.append(
            f"| {name} | {r.statements} | {r.covered_full} / {r.covered_baseline} / "
            f"{r.covered_with_accepted} | {_pct(r.coverage_ratio)} | "
            f"{r.lines_regained} of {r.lines_lost} ({_pct(r.regained_share)}) | {r.mutants} | "
            f"{r.killed_full} / {r.killed_baseline} / {r.killed_with_accepted} | "
            f"{_pct(r.mutation_ratio)} |"
        )
    return out


# ---------------------------------------------------------------- live


def _live(targets: list[LiveTarget]) -> list[str]:
    sources = sorted({t.model_source for t in targets if t.model_source})
    models = sorted({t.model for t in targets if t.model})
    label = ", ".join(_SOURCE_LABEL.get(s, s) for s in sources) or "nothing (no run)"
    out = [
        f"Tests proposed by: **{label}** (model: {', '.join(models) or '-'}). For each target "
        "the held-out files are removed and `generate` writes tests for the modules they "
        "covered; the held-out human tests are the yardstick.",
        "",
        "## Generation",
        "",
        "| target | turns | stopped by | files kept / proposed | tests kept / judged | build | "
        "pass reliably | kept per turn | suspected bugs | tokens in / out | cache-read share | "
        "dollars | $ per kept test | wall | model | harness overhead |",
        "|---|---:|---|---|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    gens: list[Generation] = []
    for t in targets:
        g = t.generation
        if t.status != "scored" or g is None:
            out.append(f"| {t.target.name} | not scored: {t.message} |" + "|" * 15)
            continue
        gens.append(g)
        tm = t.timing
        out.append(
            f"| {t.target.name} | {g.iterations} | {g.stopped_by} | {g.files_accepted} / "
            f"{g.files_proposed} | {g.tests_accepted} / {g.tests_proposed} | "
            f"{_pct(g.build_rate)} | {_pct(g.reliable_rate)} | "
            f"{' '.join(map(str, g.accepted_per_iteration)) or '-'} | {len(g.suspected_bugs)} | "
            f"{g.input_tokens + g.cache_read_tokens + g.cache_write_tokens:,} / "
            f"{g.output_tokens:,} | {_pct(g.cache_read_share)} | {_usd(g.cost_usd)} | "
            f"{_usd(g.dollars_per_accepted_test)} | {tm.wall:.0f} s | {tm.model:.0f} s | "
            f"{tm.overhead:.0f} s |"
        )
    total = _sum(gens)
    if total is not None:
        out.append(
            f"| **all** | {total.iterations} | | {total.files_accepted} / {total.files_proposed} "
            f"| {total.tests_accepted} / {total.tests_proposed} | {_pct(total.build_rate)} | "
            f"{_pct(total.reliable_rate)} | | {len(total.suspected_bugs)} | "
            f"{total.input_tokens + total.cache_read_tokens + total.cache_write_tokens:,} / "
            f"{total.output_tokens:,} | {_pct(total.cache_read_share)} | "
            f"{_usd(total.cost_usd)} | {_usd(total.dollars_per_accepted_test)} | | | |"
        )
    bugs = [
        (t.target.name, b) for t in targets if t.generation for b in t.generation.suspected_bugs
    ]
    if bugs:
        out += ["", "Suspected bugs (kept as strict xfail):", ""]
        out += [f"- {name}: `{b}`" for name, b in bugs]
    out += ["", "## Recovery: baseline + accepted tests, against the full human suite", ""]
    out += _recovery_table([(t.target.name, t.recovery) for t in targets])
    out += ["", *_published(total, [t.recovery for t in targets if t.recovery])]
    return out


def _published(total: Generation | None, recoveries: list[Recovery]) -> list[str]:
    ours = {
        "build_rate": total.build_rate if total else None,
        "reliable_rate": total.reliable_rate if total else None,
        "accept_rate": total.accept_rate if total else None,
        "median_module_coverage": median_module_coverage(recoveries),
    }
    out = [
        "## Against published figures",
        "",
        "Not the same experiment: they wrote unit tests (TestGen-LLM: Kotlin classes at Meta; "
        "CoverUp: Python modules with coverage gaps, line + branch). These are integration tests "
        "for modules that already have a suite; coverage here is statements in function bodies, "
        "by the kept tests alone.",
        "",
        "| study | metric | published | here | source |",
        "|---|---|---:|---:|---|",
    ]
    for f in FIGURES:
        out.append(
            f"| {f.study} | {f.metric} | {_pct(f.value)} | {_pct(ours[f.ours])} | {f.source} |"
        )
    return out


def _sum(gens: list[Generation]) -> Generation | None:
    if not gens:
        return None
    total = Generation()
    for g in gens:
        for field in (
            "iterations",
            "files_proposed",
            "files_accepted",
            "tests_proposed",
            "tests_built",
            "tests_reliable",
            "tests_accepted",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
        ):
            setattr(total, field, getattr(total, field) + getattr(g, field))
        total.cost_usd += g.cost_usd
        total.suspected_bugs += g.suspected_bugs
    return total


# ---------------------------------------------------------------- cells


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _usd(value: Decimal | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())[:400]
