"""The project's pytest options that would change what itarch's judging sees, taken out.

A project's `addopts` (pytest.ini, pyproject, tox.ini, setup.cfg) may ask for parallel workers
(pytest-xdist `-n auto`), fail-fast (`-x`, `--maxfail`, `--sw`), a selection by the last run
(`--lf`, `--ff`, `--nf`), coverage reports (pytest-cov `--cov`), automatic reruns
(pytest-rerunfailures), report files or a debugger. Each would make a judged run say something
else than "these tests, each run once, in this process": workers report no results to our
plugin, fail-fast leaves tests unrun, coverage fights our line tracer, reruns hide flakiness and
report files appear as side effects. Everything else of the project's config, conftests and
plugins stays.

Runs inside the sandbox under the target's interpreter: standard library only, old syntax.
"""

from __future__ import annotations

# Long options dropped together with their value ("--opt VALUE" or "--opt=VALUE").
_WITH_VALUE = frozenset(
    {
        "--numprocesses",
        "--maxprocesses",
        "--dist",
        "--tx",
        "--max-worker-restart",
        "--maxfail",
        "--last-failed-no-failures",
        "--lfnf",
        "--cov-report",
        "--cov-config",
        "--cov-fail-under",
        "--cov-context",
        "--reruns",
        "--reruns-delay",
        "--only-rerun",
        "--rerun-except",
        "--junitxml",
        "--junit-xml",
        "--junit-prefix",
        "--html",
        "--css",
        "--report-log",
        "--resultlog",
        "--result-log",
        "--json-report-file",
        "--pdbcls",
    }
)
# Long options dropped alone.
_FLAGS = frozenset(
    {
        "--exitfirst",
        "--stepwise",
        "--sw",
        "--stepwise-skip",
        "--sw-skip",
        "--last-failed",
        "--lf",
        "--failed-first",
        "--ff",
        "--new-first",
        "--nf",
        "--looponfail",
        "--cov-branch",
        "--cov-append",
        "--no-cov",
        "--no-cov-on-fail",
        "--json-report",
        "--self-contained-html",
        "--pdb",
        "--trace",
    }
)
# `--cov` takes an optional value: `--cov`, `--cov=pkg`, `--cov pkg`.
_OPTIONAL_VALUE = frozenset({"--cov"})
# Short options that take a value (pytest's own and xdist's): in a bundle such as `-vx` or
# `-rA`, everything after one of these is its value.
_SHORT_WITH_VALUE = "kmpcoWrn"
# Short options dropped: -x (fail-fast), -f (looponfail); -n with its value (workers).
_SHORT_DROPPED = "xf"


def _short_bundle(arg: str, following: str | None) -> tuple[str | None, bool]:
    """(what is left of a short-option bundle, whether it swallowed the next argument)."""
    kept = ""
    letters = arg[1:]
    for index, letter in enumerate(letters):
        if letter in _SHORT_WITH_VALUE:
            value = letters[index + 1 :]
            swallows = not value
            if letter == "n":  # xdist workers: drop the option and its value
                return ("-" + kept if kept else None), swallows
            return "-" + kept + letters[index:], swallows and following is not None
        if letter not in _SHORT_DROPPED:
            kept += letter
    return ("-" + kept if kept else None), False


def neutralise(args: list[str]) -> tuple[list[str], list[str]]:
    """(args without the options above, the options dropped); `--` and after are left alone."""
    kept: list[str] = []
    dropped: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        following = args[index + 1] if index + 1 < len(args) else None
        if arg == "--":
            kept.extend(args[index:])
            break
        name = arg.split("=", 1)[0]
        if arg.startswith("--"):
            if name in _FLAGS or (name in _WITH_VALUE and "=" in arg):
                dropped.append(arg)
            elif name in _WITH_VALUE:
                dropped.append(arg if following is None else arg + " " + following)
                index += 1
            elif name in _OPTIONAL_VALUE or name.startswith("--cov-"):
                takes_next = (
                    "=" not in arg
                    and name in _OPTIONAL_VALUE
                    and following is not None
                    and not following.startswith("-")
                    and not following.endswith(".py")
                    and "::" not in following
                )
                dropped.append(arg + (" " + str(following) if takes_next else ""))
                index += 1 if takes_next else 0
            else:
                kept.append(arg)
        elif arg.startswith("-") and len(arg) > 1:
            left, swallows = _short_bundle(arg, following)
            if left != arg:
                dropped.append(arg if not swallows else arg + " " + str(following))
            if left is not None:
                kept.append(left)
                if swallows:  # a kept option's value, e.g. `-k expr`
                    kept.append(str(following))
            index += 1 if swallows else 0
        else:
            kept.append(arg)
        index += 1
    return kept, dropped
