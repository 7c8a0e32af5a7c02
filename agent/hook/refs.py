"""What a push sends: git's ref lines on the hook's stdin, turned into commit ranges to check.

git writes one line per ref, `<local ref> <local sha> <remote ref> <remote sha>`, with an all-zero
sha for "nothing": a zero local sha deletes the remote ref, a zero remote sha creates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.git import git, git_ok, lines


@dataclass(frozen=True)
class RefUpdate:
    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str


@dataclass(frozen=True)
class PushRange:
    """The commits one ref update sends: `base` (None: from the root) to `head`."""

    ref: str  # the remote ref being updated, e.g. refs/heads/main
    base: str | None
    head: str
    why: str  # how the base was chosen, for the user ("new branch", "force push", ...)


def is_zero(sha: str) -> bool:
    return not sha.strip("0")


def parse_ref_lines(text: str) -> list[RefUpdate]:
    """Parse stdin; lines that are not four fields are ignored rather than failing the push."""
    updates = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            updates.append(RefUpdate(*fields))
    return updates


def updates_from_pre_commit(env: Mapping[str, str]) -> list[RefUpdate]:
    """Under the pre-commit framework stdin is not forwarded; the range comes in its variables."""
    to_ref = env.get("PRE_COMMIT_TO_REF", "")
    if not to_ref:
        return []
    return [
        RefUpdate(
            local_ref=env.get("PRE_COMMIT_LOCAL_BRANCH", to_ref),
            local_sha=to_ref,
            remote_ref=env.get("PRE_COMMIT_REMOTE_BRANCH", ""),
            # No FROM_REF means pre-commit found nothing the remote has: compare from the root.
            remote_sha=env.get("PRE_COMMIT_FROM_REF", "") or "0" * len(to_ref),
        )
    ]


def resolve(repo: Path, remote: str, updates: list[RefUpdate]) -> tuple[list[PushRange], list[str]]:
    """The range each update pushes, and one note per update that needs no check (and why)."""
    ranges: list[PushRange] = []
    skipped: list[str] = []
    for u in updates:
        name = u.remote_ref or u.local_ref
        if is_zero(u.local_sha):
            skipped.append(f"{name}: deleted")
        elif u.local_ref.startswith("refs/tags/") or u.remote_ref.startswith("refs/tags/"):
            skipped.append(f"{name}: tag")
        elif git(repo, "cat-file", "-t", u.local_sha, check=False) != "commit":
            skipped.append(f"{name}: not a commit")
        else:
            found = _range_of(repo, remote, u)
            if found is None:
                skipped.append(f"{name}: no new commits")
            else:
                ranges.append(found)
    return ranges, skipped


def _range_of(repo: Path, remote: str, u: RefUpdate) -> PushRange | None:
    name = u.remote_ref or u.local_ref
    if not is_zero(u.remote_sha) and git_ok(repo, "cat-file", "-e", f"{u.remote_sha}^{{commit}}"):
        if u.remote_sha == u.local_sha:
            return None
        if git_ok(repo, "merge-base", "--is-ancestor", u.remote_sha, u.local_sha):
            return PushRange(name, u.remote_sha, u.local_sha, "update")
        # A force push: only what the new history adds beyond the common ancestor is new code.
        base = git(repo, "merge-base", u.remote_sha, u.local_sha, check=False) or None
        if base is not None:
            return PushRange(name, base, u.local_sha, "force push")
    # A new branch, or a remote tip we never fetched: compare with what the remote already has.
    why = "new branch" if is_zero(u.remote_sha) else "remote tip not fetched here"
    return _from_remote_knowledge(repo, remote, u.local_sha, name, why)


def _from_remote_knowledge(
    repo: Path, remote: str, head: str, name: str, why: str
) -> PushRange | None:
    out = lines(git(repo, "rev-list", "--boundary", head, "--not", f"--remotes={remote}"))
    new = [line for line in out if not line.startswith("-")]
    if not new:
        return None  # every commit is already on the remote (e.g. a branch made at its tip)
    boundary = [line[1:] for line in out if line.startswith("-")]
    if boundary:
        # rev-list lists the newest boundary first: after merging the remote's main into a
        # feature branch, that is the merged tip, so main's own changes are not counted again.
        return PushRange(name, boundary[0], head, why)
    return PushRange(name, None, head, f"{why}, nothing on the remote: from the root")
