"""`itarch demo`: the whole loop on the bundled example shop, with a scripted model and no key."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import typer

from agent.cli.common import console, emit_json, emit_text, err_console, user_errors, with_globals
from agent.config import load_settings
from agent.demo.script import demo_turns
from agent.demo.shop import build_shop_repo
from agent.journal import Journal
from agent.models.scripted import ScriptedModel
from agent.pipeline import generate
from agent.report import print_report, styled, to_json
from agent.schema import CheckResult


def register(app: typer.Typer) -> None:
    app.command("demo")(with_globals(demo, repo=False))


def demo(
    keep: Path | None = typer.Option(
        None, "--keep", help="Build the example repo here and keep it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON document."),
) -> None:
    """Run itarch on examples/shop with a scripted model (no API key; not Claude's output)."""
    with user_errors(), tempfile.TemporaryDirectory(prefix="itarch-demo-") as tmp:
        dest = keep or Path(tmp) / "shop"
        shop = build_shop_repo(dest)
        if not as_json:
            console.print(
                styled(
                    ("itarch demo", "bold"),
                    f": examples/shop built as a git repo at {shop.path}; "
                    f"diff {shop.base[:8]}..{shop.head[:8]}.\n",
                    (
                        "The model is SCRIPTED: its turns are canned, not written by Claude.",
                        "bold yellow",
                    ),
                    " Everything else — context, sandbox, pytest, gates — is real.",
                )
            )
        settings = load_settings(shop.path, python=sys.executable)
        with err_console.status("starting") as status:
            report = generate(
                shop.path,
                settings=settings,
                model=ScriptedModel(demo_turns()),
                base=shop.base,
                write=True,
                on_progress=lambda text: status.update(styled(text)),
            )
        if as_json:
            emit_json(to_json(report))
            return
        _print_history(Journal.open(shop.path, report.run_id))
        print_report(console, report)
        for accepted in report.accepted:
            console.print(styled((f"── {accepted.path} ──", "bold")))
            emit_text(accepted.content)  # a file: verbatim, never wrapped


def _print_history(journal: Journal) -> None:
    """Each proposal's verdicts in turn, so the repair is visible, not only the end state."""
    for number, event in enumerate(journal.events("verdict"), start=1):
        result = CheckResult.model_validate(event["result"])
        tests = [t for f in result.files for t in f.tests]
        lines = [
            f"  {t.nodeid.split('::')[-1]}: {t.verdict}"
            + (f" ({t.reason.value}: {t.detail})" if t.reason else "")
            for t in tests
        ]
        console.print(styled((f"proposal {number}", "bold")))
        console.print(styled("\n".join(lines)))
