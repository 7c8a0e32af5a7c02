"""`.itarch/index.db`: which lines and functions of which files each existing test executed.

Filled by every sandbox run of existing test files (the judge's baselines, `itarch index`);
read by `check` (an unchanged test file's baseline is not run again), `context` (existing tests
that execute the change), the pre-push hook and `review`. A test file's entry is valid while every
file it depends on (`hashes.py`) still has the recorded content hash; stale entries are ignored,
then replaced when the file runs again. A broken or unwritable index is never an error: the
commands run as they would without one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.index.hashes import Hasher
from agent.log import get_logger

log = get_logger(__name__)

INDEX_FILE = Path(".itarch") / "index.db"
# Bumped whenever what is recorded changes meaning: older entries are then ignored.
SCHEMA = 3
_BATCH = 500  # parameters per query, well under SQLite's limit

_TABLES = """
CREATE TABLE IF NOT EXISTS test_files (
    path TEXT PRIMARY KEY, environment TEXT NOT NULL, collects INTEGER NOT NULL,
    changed_paths TEXT NOT NULL, leftover_processes INTEGER NOT NULL, recorded REAL NOT NULL,
    collect_error TEXT NOT NULL, traced TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deps (
    test_file TEXT NOT NULL, path TEXT NOT NULL, sha TEXT NOT NULL,
    PRIMARY KEY (test_file, path));
CREATE TABLE IF NOT EXISTS tests (
    nodeid TEXT PRIMARY KEY, test_file TEXT NOT NULL, passed INTEGER NOT NULL,
    duration REAL NOT NULL, records TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executed (
    nodeid TEXT NOT NULL, test_file TEXT NOT NULL, path TEXT NOT NULL, lines TEXT NOT NULL,
    functions TEXT NOT NULL, PRIMARY KEY (nodeid, path));
CREATE INDEX IF NOT EXISTS executed_by_path ON executed (path);
CREATE INDEX IF NOT EXISTS tests_by_file ON tests (test_file);
"""


@dataclass
class TestRecord:
    """One existing test as a run saw it."""

    nodeid: str
    passed: bool
    duration: float
    lines: dict[str, set[int]] = field(default_factory=dict)  # path -> executed lines
    functions: dict[str, set[str]] = field(default_factory=dict)  # path -> qualnames run
    records: list[dict[str, Any]] = field(default_factory=list)  # its first run's reports


@dataclass
class FileRecord:
    """One existing test file's run: what its tests did, and what that depends on."""

    path: str
    collects: bool
    deps: dict[str, str]  # path -> content hash at the time of the run
    tests: list[TestRecord] = field(default_factory=list)
    changed_paths: list[str] = field(default_factory=list)
    leftover_processes: int = 0
    collect_error: dict[str, Any] | None = None


class ImpactIndex:
    def __init__(self, db: sqlite3.Connection, root: Path) -> None:
        self._db = db
        self.root = root
        self.hash = Hasher(root)

    # ------------------------------------------------------------------ write

    def record(self, entry: FileRecord, environment: str, traced: list[str] | None = None) -> None:
        """Record a test file's run; `traced`: the only files whose lines were recorded (None:
        every source file, an entry that answers any question)."""
        with self._write() as db:
            self._forget(db, entry.path)
            db.execute(
                "INSERT INTO test_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.path,
                    environment,
                    int(entry.collects),
                    json.dumps(sorted(entry.changed_paths)),
                    entry.leftover_processes,
                    time.time(),
                    json.dumps(entry.collect_error) if entry.collect_error else "",
                    "" if traced is None else json.dumps(sorted(traced)),
                ),
            )
            db.executemany(
                "INSERT INTO deps VALUES (?, ?, ?)",
                [(entry.path, path, sha) for path, sha in sorted(entry.deps.items())],
            )
            db.executemany(
                "INSERT OR REPLACE INTO tests VALUES (?, ?, ?, ?, ?)",
                [
                    (t.nodeid, entry.path, int(t.passed), t.duration, json.dumps(t.records))
                    for t in entry.tests
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO executed VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        t.nodeid,
                        entry.path,
                        path,
                        json.dumps(sorted(lines)),
                        json.dumps(sorted(t.functions.get(path, ()))),
                    )
                    for t in entry.tests
                    for path, lines in t.lines.items()
                ],
            )

    def _forget(self, db: sqlite3.Connection, test_file: str) -> None:
        for table, column in (
            ("test_files", "path"),
            ("deps", "test_file"),
            ("tests", "test_file"),
            ("executed", "test_file"),
        ):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (test_file,))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                yield self._db
        except sqlite3.Error as exc:
            log.warning("test-impact index not updated", error=str(exc))

    # ------------------------------------------------------------------ read

    def valid(self, test_file: str, environment: str | None = None) -> bool:
        """Whether the test file has an entry whose every dependency is unchanged."""
        row = self._one("SELECT environment FROM test_files WHERE path = ?", (test_file,))
        if row is None or (environment is not None and row[0] != environment):
            return False
        deps = self._all("SELECT path, sha FROM deps WHERE test_file = ?", (test_file,))
        return all(self.hash(path) == sha for path, sha in deps)

    def collected(self, test_file: str, environment: str) -> bool:
        """Whether the test file's valid entry says it collected with this interpreter."""
        row = self._one("SELECT collects FROM test_files WHERE path = ?", (test_file,))
        return bool(row and row[0]) and self.valid(test_file, environment)

    def load(
        self, test_file: str, environment: str, need: set[str] | None = None
    ) -> FileRecord | None:
        """The test file's entry when it is valid for this environment and traced at least the
        files in `need`, else None."""
        if not self.valid(test_file, environment):
            return None
        if need:
            row = self._one("SELECT traced FROM test_files WHERE path = ?", (test_file,))
            if row is None or (row[0] and not need <= set(json.loads(row[0]))):
                return None
        row = self._one(
            "SELECT collects, changed_paths, leftover_processes, collect_error FROM test_files "
            "WHERE path = ?",
            (test_file,),
        )
        if row is None:
            return None
        tests = {
            nodeid: TestRecord(nodeid, bool(passed), duration, records=json.loads(records))
            for nodeid, passed, duration, records in self._all(
                "SELECT nodeid, passed, duration, records FROM tests WHERE test_file = ? "
                "ORDER BY rowid",
                (test_file,),
            )
        }
        for nodeid, path, lines, functions in self._all(
            "SELECT nodeid, path, lines, functions FROM executed WHERE test_file = ?",
            (test_file,),
        ):
            if nodeid in tests:
                tests[nodeid].lines[path] = set(json.loads(lines))
                tests[nodeid].functions[path] = set(json.loads(functions))
        return FileRecord(
            path=test_file,
            collects=bool(row[0]),
            deps={},
            tests=list(tests.values()),
            changed_paths=json.loads(row[1]),
            leftover_processes=row[2],
            collect_error=json.loads(row[3]) if row[3] else None,
        )

    def failing(self, test_file: str) -> list[tuple[str, str]]:
        """(node id, how it failed) of the file's recorded tests that failed or errored."""
        found = []
        for nodeid, records in self._all(
            "SELECT nodeid, records FROM tests WHERE test_file = ? AND passed = 0 ORDER BY rowid",
            (test_file,),
        ):
            bad = [r for r in json.loads(records) if r.get("outcome") in ("failed", "error")]
            if bad:
                what = bad[0].get("exc_type") or bad[0]["outcome"]
                found.append((nodeid, f"{what}: {bad[0].get('message', '')}".strip()))
        return found

    def has_entries(self) -> bool:
        """Whether any entry traced every source file (the index was built, not only used)."""
        return self._one("SELECT 1 FROM test_files WHERE traced = '' LIMIT 1", ()) is not None

    def test_files(self) -> list[str]:
        """Test files whose entries traced every source file: the ones that answer for any
        file whether their tests ran it."""
        return [
            row[0]
            for row in self._all("SELECT path FROM test_files WHERE traced = '' ORDER BY path", ())
        ]

    def answering(self, paths: set[str]) -> set[str]:
        """Test files whose entries traced every file of `paths` (every source file, or at least
        these): the ones whose recorded tests say whether they ran them."""
        return {
            test_file
            for test_file, traced in self._all("SELECT path, traced FROM test_files", ())
            if not traced or paths <= set(json.loads(traced))
        }

    def lines_run(self, paths: Iterable[str]) -> dict[str, dict[str, set[int]]]:
        """test file -> path -> the lines of `paths` its recorded tests executed, passing or
        not."""
        wanted = sorted(set(paths))
        found: dict[str, dict[str, set[int]]] = {}
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            for test_file, path, lines in self._all(
                "SELECT test_file, path, lines FROM executed "
                f"WHERE path IN ({','.join('?' * len(batch))})",
                batch,
            ):
                found.setdefault(test_file, {}).setdefault(path, set()).update(json.loads(lines))
        return found

    def recorded_sha(self, test_file: str, path: str) -> str | None:
        row = self._one("SELECT sha FROM deps WHERE test_file = ? AND path = ?", (test_file, path))
        return None if row is None else str(row[0])

    def executions(self, path: str) -> Iterator[tuple[str, str, set[int], set[str]]]:
        """(nodeid, test file, lines, functions) of every recorded test that ran `path`,
        passing tests only."""
        for nodeid, test_file, lines, functions in self._all(
            "SELECT e.nodeid, e.test_file, e.lines, e.functions FROM executed e "
            "JOIN tests t ON t.nodeid = e.nodeid WHERE e.path = ? AND t.passed = 1",
            (path,),
        ):
            yield nodeid, test_file, set(json.loads(lines)), set(json.loads(functions))

    def imported_by_passing(self, path: str) -> bool:
        """Whether a test file with a passing test depends on `path` (imports it, directly or
        through other modules, or runs it): its module-level code runs for that file."""
        row = self._one(
            "SELECT 1 FROM deps d JOIN tests t ON t.test_file = d.test_file "
            "WHERE d.path = ? AND t.passed = 1 LIMIT 1",
            (path,),
        )
        return row is not None

    def _one(self, sql: str, args: Iterable[object]) -> tuple | None:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def _all(self, sql: str, args: Iterable[object]) -> list[tuple]:
        try:
            return list(self._db.execute(sql, tuple(args)))
        except sqlite3.Error as exc:
            log.warning("test-impact index not readable", error=str(exc))
            return []

    def close(self) -> None:
        self._db.close()


def index_path(repo: Path) -> Path:
    return repo / INDEX_FILE


def open_index(
    repo: Path, root: Path | None = None, *, create: bool = True, read_only: bool = False
) -> ImpactIndex | None:
    """The repository's index (created when missing and `create`), hashing files under `root`
    (a sandbox's copy of the repository, by default the repository itself); None when it cannot
    be opened. `read_only` never writes (the pre-push hook)."""
    path = index_path(repo)
    if not path.exists() and (read_only or not create):
        return None
    try:
        if read_only:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
                db.close()
                return None
            return ImpactIndex(db, root or repo)
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        db = sqlite3.connect(path, timeout=30, isolation_level="DEFERRED")
        db.execute("PRAGMA journal_mode=WAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA:
            with db:
                for table in ("test_files", "deps", "tests", "executed"):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
                db.execute(f"PRAGMA user_version = {SCHEMA}")
        db.executescript(_TABLES)
    except (OSError, sqlite3.Error) as exc:
        log.warning("test-impact index unavailable", path=str(path), error=str(exc))
        return None
    return ImpactIndex(db, root or repo)
