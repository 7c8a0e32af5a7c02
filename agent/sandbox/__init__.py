"""Run pytest on a private copy of a repository, isolated, with results from our own plugin.

See `agent.sandbox.api` for the contract.
"""

from agent.sandbox.errors import SandboxError, TargetPythonError
from agent.sandbox.isolation import available_levels, probe_isolation
from agent.sandbox.python import PythonInfo, find_python, inspect_python
from agent.sandbox.sandbox import Sandbox

__all__ = [
    "PythonInfo",
    "Sandbox",
    "SandboxError",
    "TargetPythonError",
    "available_levels",
    "find_python",
    "inspect_python",
    "probe_isolation",
]
