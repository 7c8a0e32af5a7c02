"""The seam map: integration points in and near the changed code, found by walking the AST.

All seams of the changed (or requested) modules are kept; elsewhere, a seam is kept when it sits
in code that uses a changed symbol (a route whose handler calls a changed function, an import of
a changed module). Ids are stable and readable: "http_route:shop/api.py:42".
"""

from __future__ import annotations

import configparser
import tomllib
from collections import defaultdict
from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path

from agent.context.repo_map import RepoMap, gc_paused, reexports
from agent.context.scanner import Found, ModuleScan, Scanner, scan_module
from agent.log import get_logger
from agent.schema import Seam
from agent.source.imports import known_prefix

__all__ = ["Found", "ModuleScan", "Scanner", "Target", "find_seams", "scan_module"]

log = get_logger(__name__)


@dataclass
class Target:
    """A module the context is about: changed in the diff, or asked for by name."""

    module: str
    path: str
    lines: set[int] | None  # changed lines; None = the whole module is in focus
    deleted: bool = False


# ---------------------------------------------------------------------- console scripts


def console_scripts(root: Path) -> dict[str, list[tuple[str, str]]]:
    """module -> [(script name, function)] from pyproject.toml and setup.cfg entry points."""
    entries: dict[str, str] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            data = {}
        project = data.get("project", {})
        for table in (project.get("scripts"), project.get("gui-scripts")):
            if isinstance(table, dict):
                entries.update({str(k): str(v) for k, v in table.items()})
        poetry = data.get("tool", {}).get("poetry", {}).get("scripts")
        if isinstance(poetry, dict):
            entries.update({str(k): str(v) for k, v in poetry.items() if isinstance(v, str)})
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
            raw = parser.get("options.entry_points", "console_scripts", fallback="")
        except (configparser.Error, UnicodeDecodeError):
            raw = ""
        for line in raw.splitlines():
            name, sep, target = line.partition("=")
            if sep:
                entries[name.strip()] = target.strip()
    result: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, target in entries.items():
        module, _, function = target.partition(":")
        result[module.strip()].append((name, function.split("[")[0].strip()))
    return result


# ---------------------------------------------------------------------- selection


def _changed_names(scan: ModuleScan, lines: set[int]) -> set[str]:
    """Dotted names of the definitions and module-level assignments the changed lines touch."""
    touched = set()
    for qualname, (start, end) in scan.defs.items():
        if any(start <= line <= end for line in lines):
            touched.add(qualname)
    # A class counts as changed only for lines outside its methods (its methods count alone).
    for qualname in list(touched):
        methods = [q for q in touched if q.startswith(qualname + ".")]
        if methods:
            start, end = scan.defs[qualname]
            inside = {
                line
                for m in methods
                for line in range(scan.defs[m][0], scan.defs[m][1] + 1)
                if line in lines
            }
            if not {line for line in lines if start <= line <= end} - inside:
                touched.discard(qualname)
    for name, (start, end) in scan.top_level_names.items():
        if any(start <= line <= end for line in lines):
            touched.add(name)
    return {f"{scan.module}.{q}" for q in touched}


def _is_changed(found: Found, lines: set[int]) -> bool:
    if found.line in lines:
        return True
    if found.scope is None:
        return False
    start, end = found.scope
    return any(start <= line <= end for line in lines)


@dataclass
class ChangedSymbols:
    """What other modules may use of the targets."""

    names: set[str] = field(default_factory=set)  # dotted: "shop.orders.place_order"
    methods: set[str] = field(default_factory=set)  # bare method names: "place"
    modules: set[str] = field(default_factory=set)
    # package -> changed names it re-exports: `from shop import place_order` reaches
    # shop.orders.place_order through shop/__init__.py
    reexported: dict[str, set[str]] = field(default_factory=dict)
    # dotted name -> how many changed lines it holds
    weights: dict[str, int] = field(default_factory=dict)

    def weight(self, ref: str) -> int:
        """The changed lines of the changed name `ref` is or is inside of (0: none)."""
        probe = ref.split("()")[0]
        while probe:
            if probe in self.weights:
                return self.weights[probe]
            probe = probe.rpartition(".")[0]
        return 0

    def reexport(self, package: str, names: set[str]) -> None:
        if names:
            self.reexported.setdefault(package, set()).update(names)
            self.names |= {f"{package}.{name}" for name in names}

    def touches(self, ref: str, imports_target: bool) -> bool:
        if ref.startswith("."):
            return imports_target and ref[1:] in self.methods
        probe = ref
        while probe:
            if probe in self.names:
                return True
            probe = probe.rpartition(".")[0]
        return False


def to_seam(scan: ModuleScan, found: Found, changed: bool, weight: int = 0) -> Seam:
    """A found integration point as a Seam; its id is the same in every command."""
    return Seam(
        id=f"{found.kind}:{scan.path}:{found.line}",
        kind=found.kind,
        path=scan.path,
        line=found.line,
        symbol=found.symbol,
        detail=found.detail,
        changed=changed,
        changed_lines=weight,
    )


def _merge(seams: list[Seam]) -> list[Seam]:
    """One seam per id: two seams of a kind on one line become one, details joined."""
    merged: dict[str, Seam] = {}
    for seam in seams:
        if seam.id in merged:
            kept = merged[seam.id]
            if seam.detail not in kept.detail.split("; "):
                kept.detail = f"{kept.detail}; {seam.detail}"
            kept.changed = kept.changed or seam.changed
            kept.changed_lines = max(kept.changed_lines, seam.changed_lines)
        else:
            merged[seam.id] = seam.model_copy()
    return list(merged.values())


def _record_target(
    changed: ChangedSymbols, repo: RepoMap, target: Target, scan: ModuleScan | None
) -> set[str] | None:
    """Record what the target changed; return the qualnames changed (None: all of it)."""
    changed.modules.add(target.module)
    summary = repo.modules.get(target.module)
    public = summary.symbols if summary else []
    packages = reexports(repo, target.module)
    if scan is None or target.lines is None:
        # Deleted, unparsable or in focus as a whole: the whole module counts as changed.
        changed.names.add(target.module)
        for package, names in packages.items():
            changed.reexport(package, names)
        changed.methods |= {
            s.name.rsplit(".", 1)[-1]
            for s in public
            if s.kind == "method" and not s.name.endswith("__")
        }
        return None
    names = _changed_names(scan, target.lines)
    changed.names |= names
    for name in names:
        span = _span_of(scan, name[len(target.module) + 1 :])
        if span is not None:
            changed.weights[name] = sum(span[0] <= line <= span[1] for line in target.lines)
    top_level = {name[len(target.module) + 1 :].split(".")[0] for name in names}
    for package, exported in packages.items():
        changed.reexport(package, exported & top_level)
    for name in names:
        rest = name[len(target.module) + 1 :].split(".")
        if len(rest) == 2 and rest[0] in scan.classes and not rest[1].endswith("__"):
            changed.methods.add(rest[1])
    return {name[len(target.module) + 1 :] for name in names}


def _span_of(scan: ModuleScan, qualname: str) -> tuple[int, int] | None:
    return scan.defs.get(qualname) or scan.top_level_names.get(qualname)


def _callees(
    scan: ModuleScan, scopes: set[str] | None, known: Set[str], lines: set[int]
) -> dict[str, dict[str, int]]:
    """module -> qualnames of other repo modules that the changed scopes use directly, each
    with the changed lines of the scope that calls it."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for qualname, refs in scan.refs.items():
        if scopes is not None and not any(
            qualname == s or qualname.startswith(s + ".") for s in scopes
        ):
            continue
        span = _span_of(scan, qualname)
        weight = sum(span[0] <= n <= span[1] for n in lines) if span else len(lines)
        for ref in refs:
            module = None if ref.startswith(".") else known_prefix(ref, known)
            if module is not None and module != scan.module and len(ref) > len(module):
                name = ref[len(module) + 1 :].split("()")[0]
                found[module][name] = max(found[module].get(name, 0), weight)
    return found


def _own_weight(scan: ModuleScan, found: Found, lines: set[int]) -> int:
    """Changed lines a seam of a changed module contains (its function, or its own line) plus
    those of the module's own changed functions its function calls (one hop)."""
    if found.scope is not None:
        start, end = found.scope
        own = sum(start <= n <= end for n in lines)
    else:
        own = int(found.line in lines)
    if not found.symbol:
        return own
    used = scan.names.get(found.symbol, set()) | {
        r[1:] for r in scan.refs.get(found.symbol, set()) if r.startswith(".")
    }
    for qualname, (start, end) in scan.defs.items():
        if qualname == found.symbol or qualname.rsplit(".", 1)[-1] not in used:
            continue
        if found.symbol.startswith(qualname + "."):
            continue  # the class holding the seam's method
        own += sum(start <= n <= end for n in lines)
    return own


def find_seams(
    repo: RepoMap, target_list: list[Target], sources: dict[str, str] | None = None
) -> list[Seam]:
    """Seams of the targets, plus seams elsewhere that use what the targets changed.

    `sources` overrides the text of target files (when the change is not the working tree)."""
    sources = sources or {}
    known = set(repo.modules) | {t.module for t in target_list}
    scripts = console_scripts(repo.root)
    changed = ChangedSymbols()
    seams: list[Seam] = []
    target_paths = {t.path for t in target_list}
    callees: dict[str, dict[str, int]] = defaultdict(dict)
    scans: dict[str, ModuleScan | None] = {}

    def scan_of(path: str) -> ModuleScan | None:
        if path not in scans:
            scans[path] = scan_module(repo.by_path[path], path, repo.sources[path], known)
        return scans[path]

    with gc_paused():
        for target in target_list:
            text = sources.get(target.path, repo.sources.get(target.path))
            scan = None
            if not target.deleted and text is not None:
                scan = scan_module(target.module, target.path, text, known)
            scopes = _record_target(changed, repo, target, scan)
            if scan is None:
                continue
            lines = target.lines or set()
            for module, weights in _callees(scan, scopes, known, lines).items():
                for name, weight in weights.items():
                    callees[module][name] = max(callees[module].get(name, 0), weight)
            _add_scripts(scan, scripts.get(target.module, []))
            seams += [
                to_seam(scan, f, _is_changed(f, lines), _own_weight(scan, f, lines))
                for f in scan.found
            ]
        for path, module in repo.by_path.items():
            if path in target_paths or module in changed.modules:
                continue
            imports = set(repo.modules[module].imports)
            direct = not changed.modules.isdisjoint(imports)
            if not direct:
                # Through a package's re-exports: only if a changed name is mentioned at all.
                packages = imports.intersection(changed.reexported)
                text = repo.sources[path]
                if not any(w in text for p in packages for w in changed.reexported[p]):
                    continue
            scan = scan_of(path)
            if scan is not None:
                seams += [
                    to_seam(scan, f, False, _user_weight(scan, f, changed))
                    for f in _users(scan, changed, direct)
                ]
        # One hop down: the seams inside what the changed code calls (the HTTP client behind
        # `charge()`, the database behind `save_order()`) are what a test must set up.
        for module, weights in callees.items():
            if module in changed.modules or module not in repo.modules:
                continue
            scan = scan_of(repo.modules[module].path)
            if scan is not None:
                seams += [
                    to_seam(scan, f, False, _callee_weight(f, weights))
                    for f in _inside(scan, set(weights))
                ]
    merged = _merge(seams)
    # Ranked by the changed lines each contains or calls into; ties as before.
    merged.sort(
        key=lambda s: (-s.changed_lines, not s.changed, s.path not in target_paths, s.path, s.line)
    )
    log.debug("seams", total=len(merged), changed=sum(s.changed for s in merged))
    return merged


def _callee_weight(found: Found, weights: dict[str, int]) -> int:
    return max(
        (w for n, w in weights.items() if found.symbol == n or found.symbol.startswith(n + ".")),
        default=0,
    )


def _user_weight(scan: ModuleScan, found: Found, changed: ChangedSymbols) -> int:
    """Changed lines of the changed names the seam's scope (or its handlers) uses."""
    refs = {
        ref
        for qualname, names in scan.refs.items()
        if found.symbol and (qualname == found.symbol or qualname.startswith(found.symbol + "."))
        for ref in names
    }
    refs |= {_resolve_text(scan, h) for h in found.handlers} | set(found.imports)
    return max((changed.weight(ref) for ref in refs if not ref.startswith(".")), default=0)


def _inside(scan: ModuleScan, names: set[str]) -> list[Found]:
    """The non-import seams within the named definitions (a class includes its methods)."""
    return [
        found
        for found in scan.found
        if found.kind != "import"
        and any(found.symbol == n or found.symbol.startswith(n + ".") for n in names)
    ]


def _users(scan: ModuleScan, changed: ChangedSymbols, imports_target: bool) -> list[Found]:
    """The seams of a non-target module that use changed code."""
    touching = {
        qualname
        for qualname, refs in scan.refs.items()
        if any(changed.touches(ref, imports_target) for ref in refs)
    }

    def scope_touches(qualname: str) -> bool:
        # The scope itself and anything nested in it (a closure, a class's methods).
        return any(q == qualname or q.startswith(qualname + ".") for q in touching)

    def relevant(found: Found) -> bool:
        if found.kind == "import":
            return any(
                known_prefix(d, changed.modules) is not None or changed.touches(d, True)
                for d in found.imports
            )
        if found.symbol and scope_touches(found.symbol):
            return True
        return any(
            changed.touches(_resolve_text(scan, h), imports_target)
            or (h in scan.defs and scope_touches(h))
            for h in found.handlers
        )

    return [found for found in scan.found if relevant(found)]


def _resolve_text(scan: ModuleScan, dotted: str) -> str:
    head, _, rest = dotted.partition(".")
    if head in scan.resolve_alias:
        return f"{scan.resolve_alias[head]}.{rest}" if rest else scan.resolve_alias[head]
    return dotted


def _add_scripts(scan: ModuleScan, scripts: list[tuple[str, str]]) -> None:
    for name, function in scripts:
        span = scan.defs.get(function)
        line = span[0] if span else 1
        scan.found.append(
            Found(
                "cli_entry",
                line,
                function,
                f"console script {name} = {scan.module}:{function}",
                span,
            )
        )
