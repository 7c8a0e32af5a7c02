"""The base of every error a user can cause: a bad flag, setting, ref, path or environment.

Each package raises its own subclass with a one-line message that says what to do; the entry
points (the CLI and the MCP server) catch this one class and print that line, exit code 2.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix, said in one line; never a bug of itarch's."""
