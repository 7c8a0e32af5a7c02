"""The git pre-push hook: which modules and seams a push changes that no existing test exercises.

The public face of the hook: `install`/`uninstall` put the script in `.git/hooks`, `main` is what
that script runs (`python -m agent.cli hook run pre-push`), `run_hook` is everything it does.
Inside: `run` (the push, start to end), `installer`, `refs` (what is pushed), `git`, `scan`
(what changed, and which tests exercise it: `mapping`, `routes`, `existing_tests`, `evidence`),
`report`, and `generate`/`model` for generate mode. Only this face is imported from outside.
"""

from __future__ import annotations

from agent.hook.installer import MODES, HookError, install, uninstall
from agent.hook.run import main, run_hook

__all__ = ["MODES", "HookError", "install", "main", "run_hook", "uninstall"]
