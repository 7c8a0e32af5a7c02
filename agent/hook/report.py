"""What the hook tells the user: plain lines on stderr, which git shows under `git push`."""

from __future__ import annotations

from typing import TextIO

from agent.hook.mapping import Gap
from agent.hook.scan import RangeScan

SKIP_HINT = "skip once: ITARCH_SKIP=1 git push (or git push --no-verify)"


def fix_command(scan: RangeScan) -> str:
    """The `itarch generate` call that writes tests for this range's gaps."""
    if scan.range.base:
        return f"itarch generate --base {scan.range.base[:12]}"
    modules = sorted({g.module for g in scan.gaps})
    return "itarch generate " + " ".join(f"--module {m}" for m in modules)


def print_scans(out: TextIO, scans: list[RangeScan], mode: str, *, seconds: float) -> None:
    gaps = [g for s in scans for g in s.gaps]
    modules = {m.module for s in scans for m in s.modules}
    seams = {seam.id for s in scans for seam in s.seams}
    summary = (
        f"{len(modules)} changed module(s), {len(seams)} changed seam(s) "
        f"[{mode} mode, {seconds:.2f}s]"
    )
    if not gaps:
        # what decided beyond the static mapping (always there, so left unsaid)
        measured = sorted(
            {e for s in scans for e in s.evidence if not e.startswith(("static", "build "))}
        )
        also = f" ({'; '.join(measured)})" if measured else ""
        _say(out, f"{summary}: every one is exercised by an existing test{also}")
        return
    _say(out, f"{summary}: {_count(gaps)} untested")
    for scan in scans:
        if scan.gaps:
            _print_range(out, scan)
    for line in _fix_lines(scans):
        out.write(f"  {line}\n")
    if mode == "block":
        _say(out, "push blocked: what this push changes needs tests first; " + SKIP_HINT)
    out.flush()


def _print_range(out: TextIO, scan: RangeScan) -> None:
    rng = scan.range
    since = rng.base[:12] if rng.base else "the root"
    out.write(f"  {rng.ref} ({since}..{rng.head[:12]}, {rng.why}):\n")
    by_module: dict[str, list[Gap]] = {}
    for gap in scan.gaps:
        by_module.setdefault(gap.module, []).append(gap)
    for module, gaps in by_module.items():
        whole = next((g for g in gaps if g.seam is None and g.function is None), None)
        note = f": {whole.why}" if whole else ""
        out.write(f"    {module} ({gaps[0].path}){note}\n")
        for gap in gaps:
            if gap.function is not None:
                out.write(f"      {'function':<11} {gap.function}  (line {gap.line}): {gap.why}\n")
            elif gap.seam is not None:
                s = gap.seam
                where = f"line {s.line}" + (f" in {s.symbol}" if s.symbol else "")
                out.write(f"      {s.kind:<11} {s.detail}  ({where}): {gap.why}\n")
    out.write(f"    tested means: {'; '.join(scan.evidence)}\n")


def _fix_lines(scans: list[RangeScan]) -> list[str]:
    commands = list(dict.fromkeys(fix_command(s) for s in scans if s.gaps))
    return [f"fix: {c}" for c in commands]


def _count(gaps: list[Gap]) -> str:
    seams = sum(1 for g in gaps if g.seam is not None)
    functions = sum(1 for g in gaps if g.function is not None)
    modules = sum(1 for g in gaps if g.seam is None and g.function is None)
    parts = [f"{seams} seam(s)"] if seams else []
    if functions:
        parts.append(f"{functions} changed function(s)")
    if modules:
        parts.append(f"{modules} module(s)")
    return " and ".join(parts)


def _say(out: TextIO, line: str) -> None:
    out.write(f"itarch: {line}\n")
