"""Command-line words before any parser sees them: the verbosity spellings, and the global options
of the hook's fast path (`python -m agent.cli hook run`, which skips loading the whole CLI).

Standard library only: this module is on the path of every `git push`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VERBOSE = "--verbose"
_REPEATED_V = re.compile(r"^-(v+)$")


def normalize_verbosity(args: list[str]) -> list[str]:
    """Every spelling of the verbosity as `--verbose=N`, or as given when it already has a value.

    `-v`, `-vv`, `-vvv` count; `-v 2`, `-v2`, `--verbose 2` and `--verbose=2` give the level.
    Words after `--` are left alone."""
    out: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            out += args[i:]
            break
        repeated = _REPEATED_V.match(word)
        if word == VERBOSE or repeated:
            if i + 1 < len(args) and args[i + 1].isdigit() and word in ("-v", VERBOSE):
                out += [VERBOSE, args[i + 1]]
                i += 2
                continue
            out.append(f"{VERBOSE}={len(repeated.group(1)) if repeated else 1}")
        else:
            out.append(word)
        i += 1
    return out


@dataclass
class HookGlobals:
    """The global options given to the hook's fast path, and the words left for the hook."""

    python: str | None = None
    repo: str | None = None
    verbose: int = 0
    rest: list[str] = field(default_factory=list)


def split_globals(args: list[str]) -> HookGlobals:
    """`--python`, `--repo` and the verbosity, taken out of `args` wherever they are."""
    found = HookGlobals()
    words = normalize_verbosity(args)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            found.rest += words[i:]
            break
        name, eq, value = word.partition("=")
        if name in ("--python", "--repo", VERBOSE):
            if not eq:
                if i + 1 >= len(words):
                    found.rest.append(word)  # no value: the hook's parser reports it
                    break
                value = words[i + 1]
                i += 1
            if name == "--python":
                found.python = value
            elif name == "--repo":
                found.repo = value
            else:
                found.verbose = int(value) if value.isdigit() else 1
        else:
            found.rest.append(word)
        i += 1
    return found
