"""Run one Sandbox and print its RunResult as JSON; the tests start this under `unshare -rn`.

Inside a network namespace of the test's own making, a packet that got past the sandbox would
still have nowhere to go: the checks that try to connect out are safe even if the sandbox broke.

    python netns_runner.py REPO LEVEL FILES_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.config import SandboxSettings
from agent.log import configure
from agent.sandbox import Sandbox
from agent.sandbox.inside.itarch_boot import loopback_up


def main() -> int:
    repo, level, files_json = sys.argv[1:4]
    configure()  # logs to stderr, so stdout carries only the result
    loopback_up()  # our fresh namespace's lo starts down; the process level shares it
    files = json.loads(Path(files_json).read_text(encoding="utf-8"))
    with Sandbox(Path(repo), Path(sys.executable), SandboxSettings(isolation=level)) as box:
        result = box.run(files)
    sys.stdout.write(result.model_dump_json() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
