"""The sample shop service shipped with itarch, and a builder for its two-commit git history.

`examples/shop` is the service as it is now; `examples/shop-base` holds only the files whose
older version differs, from before discount codes were added. Building the repository commits
the older state first and the feature change second, so `base..head` is a real multi-module
diff to generate integration tests for. Commits are deterministic: fixed author, committer,
dates and no user or system git configuration.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent import git
from agent.errors import UserError
from agent.log import get_logger

log = get_logger(__name__)

AUTHOR_NAME = "Shop Developers"
AUTHOR_EMAIL = "dev@shop.example"
BASE_DATE = "2024-01-15T10:00:00+00:00"
HEAD_DATE = "2024-02-01T10:00:00+00:00"
BASE_MESSAGE = "Initial shop service"
HEAD_MESSAGE = "Add discount codes to orders, payments and the API"
GITIGNORE = "__pycache__/\n*.pyc\n.pytest_cache/\n.itarch/\n"

# Caches and local state a checkout may have picked up; none of it belongs in the history.
_SKIP = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".itarch", ".venv"
)


class ExampleError(UserError):
    """The example repository cannot be built; the message says why, in one line."""


class ShopRepo(BaseModel):
    """A built example repository and the two commits of its history."""

    model_config = ConfigDict(frozen=True)

    path: Path
    base: str  # sha of "Initial shop service"
    head: str  # sha of the discount-codes change


def examples_root(package_dir: Path | None = None) -> Path:
    """The folder holding `shop` and `shop-base`: packaged in a wheel, or the source checkout."""
    here = package_dir or Path(__file__).resolve().parents[1]  # the agent package
    # An installed wheel ships them under agent/_examples; a checkout keeps them at the top.
    for root in (here / "_examples", here.parent / "examples"):
        if (root / "shop" / "shop" / "api.py").is_file():
            return root
    raise ExampleError(
        f"the example shop is missing (looked in {here / '_examples'} and "
        f"{here.parent / 'examples'}); reinstall itarch"
    )


def shop_source() -> Path:
    """The folder of the example shop service as it is at the head commit."""
    return examples_root() / "shop"


def shop_base_source() -> Path:
    """The folder of files whose version at the base commit differs from `shop_source()`."""
    base = examples_root() / "shop-base"
    if not base.is_dir():
        raise ExampleError(f"the example shop's base files are missing ({base}); reinstall itarch")
    return base


def deterministic_git_env(
    date: str, name: str = AUTHOR_NAME, email: str = AUTHOR_EMAIL
) -> dict[str, str]:
    """An environment in which the same files always give the same commits."""
    # Drop inherited GIT_* variables (a surrounding hook's GIT_DIR, say) and ignore user and
    # system config.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_DATE=date,
    )
    return env


def _git(repo: Path, *args: str, date: str = BASE_DATE) -> str:
    config = (
        f"user.name={AUTHOR_NAME}",
        f"user.email={AUTHOR_EMAIL}",
        "commit.gpgsign=false",
        "init.defaultBranch=main",
        "core.autocrlf=false",
    )
    try:
        done = git.run(repo, *args, config=config, env=deterministic_git_env(date))
    except git.GitError:
        raise ExampleError("git is not installed (needed to build the example repo)") from None
    if not done.ok:
        detail = (done.stderr or done.text("replace")).strip().splitlines()
        raise ExampleError(f"git {args[0]} failed in {repo}: {detail[-1] if detail else '?'}")
    return done.text("replace").strip()


def _commit(repo: Path, message: str, date: str) -> str:
    _git(repo, "add", "--all", date=date)
    _git(repo, "commit", "--quiet", "--no-verify", "--message", message, date=date)
    return _git(repo, "rev-parse", "HEAD", date=date)


def build_shop_repo(dest: Path) -> ShopRepo:
    """Create a git repository of the example shop at `dest`: the base commit, then the change.

    `dest` must be missing or an empty directory; nothing outside it is touched.
    """
    shop, shop_base = shop_source(), shop_base_source()
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ExampleError(f"{dest} already exists and is not empty; choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)

    _git(dest, "init", "--quiet")
    shutil.copytree(shop, dest, ignore=_SKIP, dirs_exist_ok=True)
    shutil.copytree(shop_base, dest, ignore=_SKIP, dirs_exist_ok=True)
    (dest / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    base = _commit(dest, BASE_MESSAGE, BASE_DATE)

    shutil.copytree(shop, dest, ignore=_SKIP, dirs_exist_ok=True)
    head = _commit(dest, HEAD_MESSAGE, HEAD_DATE)

    log.info("example shop repo built", path=str(dest), base=base, head=head)
    return ShopRepo(path=dest.resolve(), base=base, head=head)
