"""`python -m agent.cli ARGS` is `itarch ARGS`.

`hook run` (what the installed git hook execs on every push) goes straight to the hook, without
loading every subcommand: the full CLI imports the model SDK and the sandbox, which would cost
more than the whole check.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:3] == ["hook", "run"]:
        from agent.integrations.pre_push import main as run_hook

        sys.exit(run_hook(sys.argv[3:]))
    from agent.cli.main import app

    app(prog_name="itarch")


if __name__ == "__main__":
    main()
