"""The demo: the bundled example shop built as a two-commit git repository (`shop`), and the
scripted conversation `itarch demo` plays against it (`script`)."""

from __future__ import annotations

from agent.demo.script import demo_turns
from agent.demo.shop import ExampleError, ShopRepo, build_shop_repo, deterministic_git_env

__all__ = ["ExampleError", "ShopRepo", "build_shop_repo", "demo_turns", "deterministic_git_env"]
