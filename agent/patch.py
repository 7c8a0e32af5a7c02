"""Reading unified diffs: the one parser for git's patches (the change, the pushed range) and
GitHub's per-file patches (a pull request's files). Text in, paths and line numbers out; nothing
here runs git.

git C-quotes a path with unusual characters (`"a\\tb.py"`, and with `core.quotepath` on, non-ASCII
bytes as octal: `"caf\\303\\251.py"`); `unquote_path` decodes it back to the name on disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_BINARY = re.compile(r"^Binary files (.+) and (.+) differ$")
_OCTAL = re.compile(r"[0-7]{3}")
# C's one-letter escapes, as git writes them in a quoted path.
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass(frozen=True)
class Hunk:
    """One `@@ -old_start,old_count +new_start,new_count @@` header (a count defaults to 1)."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int


def unquote_path(name: str) -> str:
    """A path as git printed it, decoded: a C-quoted name's escapes are bytes of UTF-8."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    body, raw, i = name[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char != "\\" or i + 1 == len(body):
            raw += char.encode("utf-8")
            i += 1
        elif _OCTAL.match(body, i + 1):
            raw.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        elif body[i + 1] in _ESCAPES:
            raw.append(_ESCAPES[body[i + 1]])
            i += 2
        else:  # not an escape git writes: keep it as it stands
            raw += body[i : i + 2].encode("utf-8")
            i += 2
    return raw.decode("utf-8", errors="replace")


def split_patch(patch: str) -> list[tuple[str, str]]:
    """(path in the new version, or the old one for deletions; chunk text) per file of a patch."""
    chunks: list[tuple[str, str]] = []
    for chunk in re.split(r"(?m)^(?=diff --git )", patch):
        if chunk.startswith("diff --git "):
            chunks.append((chunk_path(chunk), chunk))
    return chunks


def chunk_path(chunk: str) -> str:
    """The path one file's chunk of a git patch is about (see `split_patch`)."""
    old = new = None
    for line in chunk.splitlines():
        if line.startswith("@@"):
            break
        if line.startswith("+++ "):
            new = _strip_side(line[4:], "b/")
        elif line.startswith("--- "):
            old = _strip_side(line[4:], "a/")
        elif line.startswith("rename to "):
            new = unquote_path(line[len("rename to ") :])
        elif m := _BINARY.match(line):
            old, new = _strip_side(m.group(1), "a/"), _strip_side(m.group(2), "b/")
    if new:
        return new
    if old:
        return old
    # Mode-only change: the header is "diff --git a/P b/P".
    body = chunk.splitlines()[0][len("diff --git ") :]
    return unquote_path(body[2 : (len(body) - 1) // 2])


def _strip_side(name: str, side: str) -> str | None:
    name = unquote_path(name.rstrip("\t"))
    if name == "/dev/null":
        return None
    return name[len(side) :] if name.startswith(side) else name


def hunks(text: str) -> Iterator[Hunk]:
    """The hunk headers of a patch (or of one file's chunk), in order."""
    for line in text.splitlines():
        if m := _HUNK.match(line):
            old_start, old_count, new_start, new_count = m.groups()
            yield Hunk(int(old_start), int(old_count or 1), int(new_start), int(new_count or 1))


def hunk_lines(text: str) -> Iterator[tuple[str, int]]:
    """Each line inside the hunks of one file's patch as (kind, line of the new version):
    "+" added, " " context (its own line), "-" removed (the new line it comes before).
    Lines before the first hunk and "\\ No newline at end of file" are not lines of the file."""
    current: int | None = None
    for line in text.splitlines():
        if m := _HUNK.match(line):
            current = int(m.group(3))
        elif current is None or line.startswith("\\"):
            continue
        elif line.startswith("-"):
            yield "-", current
        else:
            yield ("+" if line.startswith("+") else " "), current
            current += 1


def added_lines(text: str) -> list[int]:
    """The lines of the new version one file's patch adds."""
    return [line for kind, line in hunk_lines(text) if kind == "+"]


def new_side_lines(text: str) -> set[int]:
    """The lines of the new version one file's patch shows: added and context lines."""
    return {line for kind, line in hunk_lines(text) if kind != "-"}
