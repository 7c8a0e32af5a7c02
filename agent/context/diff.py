"""What changed: the unified diff of base..head (plus uncommitted work) and, per file, the lines
that are new in the changed version. Read-only: only git commands that never write."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent import git
from agent.context.errors import ContextError
from agent.context.untracked import user_untracked
from agent.log import get_logger
from agent.patch import added_lines, split_patch
from agent.schema import ChangedFile
from agent.source.files import ModuleNamer, read_text

log = get_logger(__name__)

# Untracked files larger than this are listed but their content is not inlined in the diff;
# beyond the second limit they are not even read (no line numbers).
UNTRACKED_INLINE_LIMIT = 256 * 1024
UNTRACKED_READ_LIMIT = 8 * 1024 * 1024

Status = Literal["added", "modified", "deleted", "renamed", "untracked"]
_STATUS: dict[str, Status] = {
    "A": "added",
    "C": "added",
    "M": "modified",
    "T": "modified",
    "U": "modified",
    "D": "deleted",
    "R": "renamed",
}


class GitRepo:
    """A repository opened for reading; `prefix` is where `root` sits inside the work tree."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ContextError(f"{root} is not a directory")
        try:
            where = git.work_tree(root)
        except git.GitError as exc:
            raise ContextError(str(exc)) from None
        refused = git.refusal(where.stderr, root)
        if refused:
            raise ContextError(refused)
        if where.bare:
            raise ContextError(f"{root} is a bare git repository; a working tree is needed")
        if where.top is None:
            raise ContextError(f"{root} is not a git repository")
        rel = root.resolve().relative_to(where.top).as_posix()
        self.top = where.top  # where git runs: paths and pathspecs are relative to it
        self.root = root
        self.prefix = "" if rel == "." else rel + "/"

    def run(self, *args: str) -> str:
        """A read-only git command's output; a failure is a ContextError with git's own reason."""
        try:
            done = git.run(self.top, *args, config=git.UNQUOTED_PATHS)
        except git.GitError as exc:
            raise ContextError(str(exc)) from None
        if not done.ok:
            refused = git.refusal(done.stderr, self.root)
            if refused:
                raise ContextError(refused) from None
            raise ContextError(f"git {args[0]} failed in {self.root}: {done.reason()}") from None
        return done.text()

    def has_commits(self) -> bool:
        if git.is_commit(self.top, "HEAD"):
            return True
        self.run("rev-parse", "--git-dir")  # git's own refusal (safe.directory), if that is why
        return False

    def is_shallow(self) -> bool:
        try:
            return self.run("rev-parse", "--is-shallow-repository").strip() == "true"
        except ContextError:
            return False

    def commit(self, ref: str) -> str:
        """The full sha `ref` names, or a ContextError naming the ref."""
        try:
            out = self.run("rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")
            return out.strip()
        except ContextError as exc:
            if "safe.directory" in str(exc):
                raise
            if self.is_shallow():
                raise ContextError(
                    f"unknown git ref {ref!r} in {self.root}, a shallow clone whose history may "
                    "stop before it: fetch more history with `git fetch --deepen=N` (N more "
                    "commits) or all of it with `git fetch --unshallow`, then retry"
                ) from None
            raise ContextError(
                f"unknown git ref {ref!r}: not a branch, tag or commit in {self.root}"
            ) from None

    def parent_or_empty(self, sha: str) -> str:
        try:
            parents = git.parents(self.top, sha)
        except git.GitError as exc:
            raise ContextError(f"git rev-list failed in {self.root}: {exc}") from None
        return parents[0] if parents else git.EMPTY_TREE

    def merge_base(self, base: str, head: str) -> str:
        """Where head forked from base, so commits that only base gained are not in the change."""
        try:
            return self.run("merge-base", base, head).strip() or base
        except ContextError:  # unrelated histories
            return base

    def read_at(self, rev: str, rel: str) -> str | None:
        """A file's text as committed in `rev` (None when absent or binary)."""
        try:
            data = git.read_blob_bytes(self.top, rev, [self.prefix + rel]).get(self.prefix + rel)
        except git.GitError:
            return None
        if data is None or b"\0" in data[:8192]:
            return None
        return data.decode("utf-8", errors="replace")


@dataclass
class Change:
    """What changed: the patch, the files, and whether uncommitted work is part of it."""

    patch: str = ""
    files: list[ChangedFile] = field(default_factory=list)
    uncommitted: bool = False  # the working tree (or untracked files) differ from head
    old: str = ""  # the commit the change is measured from
    new: str = ""  # the commit it is measured to ("": the working tree)


def changes(
    repo: Path, base: str | None, head: str = "HEAD", worktree: bool = True
) -> tuple[str, list[ChangedFile]]:
    """Unified diff text and changed files of base..head (see `change`)."""
    found = change(repo, base, head, worktree)
    return found.patch, found.files


def change(repo: Path, base: str | None, head: str = "HEAD", worktree: bool = True) -> Change:
    """The change of base..head.

    With `base` None the change is the uncommitted work (or, when the working tree is not
    included, head's own commit). With `worktree` and head == "HEAD", staged, unstaged and the
    user's own untracked files (not ignored, not build/venv/cache output, not itarch's own
    files) are part of the change. A given base is compared from its merge base with head, the
    way a pull request shows it."""
    g = GitRepo(repo)
    if not g.has_commits():
        raise ContextError(f"{repo} has no commits yet; commit once, or name modules instead")
    head_sha = g.commit(head)
    with_worktree = worktree and head == "HEAD"
    if base is not None:
        old = g.merge_base(g.commit(base), head_sha)
    elif with_worktree:
        old = head_sha
    else:
        old = g.parent_or_empty(head_sha)
    new = [] if with_worktree else [head_sha]
    scope = [f"--relative={g.prefix}"] if g.prefix else []
    common = ["-M", "--no-color", "--no-ext-diff", "--no-textconv", *scope, old, *new]
    statuses = _parse_name_status(g.run("diff", "--name-status", "-z", *common))
    own = [p for p in statuses if p.startswith(".itarch/")]
    for path in own:
        del statuses[path]
    spec = ["--", *(f":(exclude){g.prefix}{p}" for p in own)] if own else []
    patch = g.run("diff", "-U3", "--src-prefix=a/", "--dst-prefix=b/", *common, *spec)
    added = {path: added_lines(chunk) for path, chunk in split_patch(patch)}

    namer = ModuleNamer(repo)
    files = [
        ChangedFile(path=path, status=status, added_lines=added.get(path, []), module=namer(path))
        for path, status in statuses.items()
    ]
    uncommitted = False
    if with_worktree:
        untracked_patch, untracked = _untracked(g, namer)
        patch += untracked_patch
        files += untracked
        if base is None:
            uncommitted = bool(statuses or untracked)
        else:
            uncommitted = bool(untracked) or _worktree_differs(g, head_sha)
    files.sort(key=lambda f: f.path)
    log.debug("diff", base=base, head=head, old=old, files=len(files), chars=len(patch))
    return Change(patch, files, uncommitted, old, "" if with_worktree else head_sha)


def _worktree_differs(g: GitRepo, head_sha: str) -> bool:
    """Whether tracked files in the working tree or index differ from head."""
    scope = [f"--relative={g.prefix}"] if g.prefix else []
    out = g.run("diff", "--name-only", "-z", *scope, head_sha)
    return any(not p.startswith(".itarch/") for p in filter(None, out.split("\0")))


def _parse_name_status(out: str) -> dict[str, Status]:
    tokens = out.split("\0")
    result: dict[str, Status] = {}
    i = 0
    while i < len(tokens) and tokens[i]:
        code = tokens[i][0]
        if code in "RC":  # status, old path, new path
            path = tokens[i + 2]
            i += 3
        else:
            path = tokens[i + 1]
            i += 2
        result[path] = _STATUS.get(code, "modified")
    return result


def _untracked(g: GitRepo, namer: ModuleNamer) -> tuple[str, list[ChangedFile]]:
    patch: list[str] = []
    files: list[ChangedFile] = []
    for rel in user_untracked(g):
        path = g.root / rel
        header = f"diff --git a/{rel} b/{rel}\nnew file (untracked)\n"
        if path.is_symlink() or not path.is_file():
            text = None
        elif path.stat().st_size > UNTRACKED_READ_LIMIT:
            patch.append(f"{header}(very large file: content not read)\n")
            files.append(ChangedFile(path=rel, status="untracked", module=namer(rel)))
            continue
        else:
            text = read_text(path)
        if text is None:
            patch.append(f"{header}Binary files /dev/null and b/{rel} differ\n")
            files.append(ChangedFile(path=rel, status="untracked", module=namer(rel)))
            continue
        lines = text.splitlines()
        if len(text) > UNTRACKED_INLINE_LIMIT:
            patch.append(f"{header}(large file: {len(lines)} lines, content not shown)\n")
        elif lines:
            body = "".join(f"+{line}\n" for line in lines)
            patch.append(f"{header}--- /dev/null\n+++ b/{rel}\n@@ -0,0 +1,{len(lines)} @@\n{body}")
        else:
            patch.append(header)
        files.append(
            ChangedFile(
                path=rel,
                status="untracked",
                added_lines=list(range(1, len(lines) + 1)),
                module=namer(rel),
            )
        )
    return "".join(patch), files
