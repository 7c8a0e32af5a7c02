"""`python -m agent.cli ARGS` is `itarch ARGS`.

`hook run` (what the installed git hook execs on every push) goes straight to the hook, without
loading every subcommand: the full CLI imports the model SDK and the sandbox, which would cost
more than the whole check. The global options work there too, before or after `hook run`.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from agent.cli.argv import split_globals

    given = split_globals(sys.argv[1:])
    if given.rest[:2] == ["hook", "run"]:
        from agent.hook.run import main as run_hook
        from agent.log import configure

        configure(given.verbose)  # diagnostics on stderr, warnings only unless -v
        if given.python:
            # The settings read ITARCH_PYTHON: the flag outranks [tool.itarch] python, as anywhere.
            os.environ["ITARCH_PYTHON"] = given.python
        if given.repo:
            try:
                os.chdir(given.repo)
            except OSError as exc:
                sys.stderr.write(
                    f"itarch: pre-push check skipped: --repo {given.repo}: {exc.strerror}\n"
                )
                sys.exit(0)
        sys.exit(run_hook(given.rest[2:]))
    from agent.cli.main import app

    app(prog_name="itarch")


if __name__ == "__main__":
    main()
