"""Keep a session answered through the loopback bridge (`llm_bridge.py serve DIR PORT`) as a
recorded session of the sessions suite: its responses, the shape of every request (messages,
tool results, each proposal's verdicts), the server's usage estimates and the run's outcome.

    python -m evals.sessions_record BRIDGE_DIR REPORT_JSON --name NAME \\
        (--target-of SESSION | --target SPEC_JSON) [--before index] [--note TEXT]

REPORT_JSON is what `itarch generate --json` printed for the run; `--target-of` reuses the
target (base and change sdists, venv, trees) of a session already in `evals/sessions/`, and
`--target` reads a new one (a `TargetSpec` as JSON, set up with `evals.sessions_target.prepare`);
either must be the repository the run was made in. `--before` names an itarch command the run
was preceded by (replayed first too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

from evals.sessions import SESSIONS, Outcome, ReplayServer, RequestShape, Session, load
from evals.sessions_target import TargetSpec


def record(
    bridge: Path,
    report: Path,
    *,
    name: str,
    target: TargetSpec,
    before: list[list[str]],
    source: str,
    note: str,
) -> Path:
    responses = sorted(bridge.glob("resp-*.json"))
    requests = sorted(bridge.glob("req-*.json"))
    if not responses or len(responses) != len(requests):
        raise SystemExit(f"{bridge}: {len(requests)} requests, {len(responses)} responses")
    session = Session(
        name=name,
        source=source,
        target=target,
        args=["generate", "--base", "HEAD~1", "--json"],
        before=before,
        responses=[json.loads(p.read_text(encoding="utf-8")) for p in responses],
    )
    shapes = ReplayServer(session)  # only to read requests as the replay will; not started
    for path in requests:
        messages = json.loads(path.read_text(encoding="utf-8")).get("messages") or []
        session.requests.append(
            RequestShape(messages=len(messages), results=shapes.results_of(messages))
        )
    usage = bridge / "usage.jsonl"
    for line in usage.read_text(encoding="utf-8").splitlines() if usage.exists() else []:
        entry = json.loads(line)
        session.usage.append(
            {"input_tokens": entry["input_tokens"], "output_tokens": entry["output_tokens"]}
        )
    document = json.loads(report.read_text(encoding="utf-8"))
    accepted = document.get("accepted", [])
    session.recorded = Outcome(
        exit_code=0 if accepted or document.get("nothing_to_test") else 1,
        stopped_by=document["stopped_by"],
        rounds=document.get("rounds", 0),
        turns=document.get("iterations", 0),
        kept=len(accepted),
        kept_tests=document.get("kept_tests", 0),
        written=[a["path"] for a in accepted if a.get("written")],
        files={
            a["path"]: hashlib.sha256(a["content"].encode("utf-8")).hexdigest() for a in accepted
        },
        wall_seconds=document.get("wall_seconds", 0.0),
        isolation=document.get("isolation", ""),
        model=document.get("model", ""),
        note=note,
    )
    folder = SESSIONS / name
    folder.mkdir(parents=True, exist_ok=True)
    for path in responses:
        shutil.copyfile(path, folder / path.name)
    (folder / "session.json").write_text(session.model_dump_json(indent=1) + "\n", "utf-8")
    return folder


def _target(of: str | None, spec: Path | None) -> TargetSpec:
    if spec is not None:
        return TargetSpec.model_validate_json(spec.read_text(encoding="utf-8"))
    template = load(SESSIONS / str(of)).target
    if template is None:
        raise SystemExit(f"session {of} names no target")
    return template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bridge", type=Path)
    parser.add_argument("report", type=Path)
    parser.add_argument("--name", required=True)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--target-of", help="a session in evals/sessions/ with the same target")
    where.add_argument("--target", type=Path, help="a TargetSpec as JSON")
    parser.add_argument("--before", action="append", default=[], help="an itarch command")
    parser.add_argument("--source", default="")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    folder = record(
        args.bridge,
        args.report,
        name=args.name,
        target=_target(args.target_of, args.target),
        before=[b.split() for b in args.before],
        source=args.source,
        note=args.note,
    )
    print(folder)


if __name__ == "__main__":
    main()
