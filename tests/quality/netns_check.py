"""Judge test files and print the CheckResult as JSON; the network test starts this under
`unshare -rn`, so even a connection that got past the sandbox's guard has nowhere to go.

    python netns_check.py REPO FILES_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.config import load_settings
from agent.log import configure
from agent.quality import Judge
from agent.sandbox import Sandbox
from agent.sandbox.inside.itarch_boot import loopback_up
from agent.schema import ProposedFile


def main() -> int:
    repo, files_json = Path(sys.argv[1]), Path(sys.argv[2])
    configure()  # logs go to stderr; stdout carries only the result
    loopback_up()  # a fresh network namespace starts with `lo` down
    files = [ProposedFile(**f) for f in json.loads(files_json.read_text(encoding="utf-8"))]
    settings = load_settings(repo, mutation=False, sandbox={"test_timeout": 5.0})
    with Sandbox(repo, Path(sys.executable), settings.sandbox) as box:
        result = Judge(box, settings).check(files)
    sys.stdout.write(result.model_dump_json() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
