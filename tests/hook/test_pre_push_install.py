"""Installing the pre-push hook: the script, a foreign hook kept and run first, core.hooksPath,
the `itarch hook` commands and the pre-commit declaration."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agent.hook.installer import script
from agent.hook.run import HookError, install, uninstall
from tests.hook.test_pre_push_helpers import PYTHON, Repo, make_repo

ROOT = Path(__file__).resolve().parents[2]

# A hook from another tool: it records its arguments and stdin, then exits with $FOREIGN_EXIT.
FOREIGN = """#!/bin/sh
echo "foreign hook ran" >&2
echo "$@" > "$(git rev-parse --git-dir)/foreign-args"
cat > "$(git rev-parse --git-dir)/foreign-stdin"
exit "${FOREIGN_EXIT:-0}"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path)


def _hooks(repo: Repo) -> Path:
    return repo.path / ".git" / "hooks"


def _add_foreign_hook(repo: Repo, name: str = "pre-push") -> Path:
    hook = _hooks(repo) / name
    hook.write_text(FOREIGN, encoding="utf-8")
    hook.chmod(0o755)
    return hook


def test_install_writes_a_script_that_execs_itarch_with_this_interpreter(repo: Repo) -> None:
    first = install(repo.path)
    second = install(repo.path)

    hook = _hooks(repo) / "pre-push"
    text = hook.read_text(encoding="utf-8")
    assert first.startswith("installed the pre-push hook (check mode)")
    assert second.startswith("updated the pre-push hook (check mode)")
    assert f"PY={shlex.quote(PYTHON)}" in text
    assert text.rstrip().endswith('exec "$PY" -P -m agent.cli hook run pre-push "$@"')
    assert hook.stat().st_mode & stat.S_IXUSR
    assert not (_hooks(repo) / "pre-push.legacy").exists()
    assert "--mode" not in text  # check is the default: [tool.itarch.hook] mode may change it


def test_a_project_with_its_own_agent_package_does_not_shadow_itarch(repo: Repo) -> None:
    broken = "raise SystemExit('the project's own agent package was imported')\n"
    repo.commit({"agent/__init__.py": "", "agent/cli/__init__.py": broken}, "agent")
    install(repo.path)
    repo.change_notify()

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert "app.notify" in done.stderr


def test_install_with_a_mode_writes_it_into_the_script(repo: Repo) -> None:
    install(repo.path, mode="block")

    assert "hook run pre-push --mode block" in (_hooks(repo) / "pre-push").read_text()
    with pytest.raises(HookError, match="unknown hook mode 'loud'"):
        install(repo.path, mode="loud")


def test_a_foreign_hook_runs_first_with_the_same_arguments_and_stdin(repo: Repo) -> None:
    original = _add_foreign_hook(repo).read_bytes()

    said = install(repo.path)
    head = repo.change_notify()
    done = repo.push("origin", "main")

    assert "the existing hook is kept as pre-push.legacy and runs first" in said
    assert (_hooks(repo) / "pre-push.legacy").read_bytes() == original
    assert done.returncode == 0, done.stderr
    git_dir = repo.path / ".git"
    assert (git_dir / "foreign-args").read_text().split() == ["origin", str(repo.remote)]
    ref_line = f"refs/heads/main {head} refs/heads/main {repo.sha('main~1')}"
    assert (git_dir / "foreign-stdin").read_text().strip() == ref_line
    stderr = done.stderr
    assert stderr.index("foreign hook ran") < stderr.index("itarch: ")
    assert "app.notify" in stderr


def test_a_failing_foreign_hook_still_stops_the_push(repo: Repo) -> None:
    _add_foreign_hook(repo)
    install(repo.path)
    before = repo.sha("main")
    repo.change_store()

    done = repo.push("origin", "main", FOREIGN_EXIT="3")

    assert done.returncode != 0
    assert repo.remote_sha("refs/heads/main") == before
    assert (
        "pre-push.legacy (the hook that was here before itarch's) stopped the push" in done.stderr
    )


def test_uninstall_restores_the_foreign_hook(repo: Repo) -> None:
    original = _add_foreign_hook(repo).read_bytes()
    install(repo.path)
    install(repo.path)  # idempotent: the kept hook is not replaced by ours

    said = uninstall(repo.path)

    assert said.startswith("removed the itarch pre-push hook and restored the previous one")
    assert (_hooks(repo) / "pre-push").read_bytes() == original
    assert not (_hooks(repo) / "pre-push.legacy").exists()
    assert uninstall(repo.path).endswith("is not itarch's hook; left alone")
    assert (_hooks(repo) / "pre-push").read_bytes() == original


def test_a_taken_legacy_name_needs_force_and_then_nothing_is_lost(repo: Repo) -> None:
    older = _add_foreign_hook(repo, "pre-push.legacy").read_bytes()
    newer = _add_foreign_hook(repo).read_bytes() + b"# newer\n"
    (_hooks(repo) / "pre-push").write_bytes(newer)

    with pytest.raises(HookError, match=r"pre-push\.legacy is taken"):
        install(repo.path)
    said = install(repo.path, force=True)

    assert (_hooks(repo) / "pre-push.legacy").read_bytes() == newer
    assert (_hooks(repo) / "pre-push.legacy.bak1").read_bytes() == older
    assert "moved to pre-push.legacy.bak1" in said


def test_a_repository_hooks_path_is_where_the_hook_goes(repo: Repo) -> None:
    repo.git("config", "core.hooksPath", ".githooks")

    said = install(repo.path)
    repo.change_notify()
    done = repo.push("origin", "main")

    assert str(repo.path / ".githooks" / "pre-push") in said
    assert not (_hooks(repo) / "pre-push").exists()
    assert done.returncode == 0, done.stderr
    assert "app.notify" in done.stderr


def test_a_shared_hooks_path_is_refused_with_the_fix(repo: Repo, tmp_path: Path) -> None:
    shared = tmp_path / "shared-hooks"
    repo.git("config", "--global", "core.hooksPath", str(shared))

    refused = repo.itarch("hook", "install")

    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "core.hooksPath is set in the global git config" in lines[0]
    assert "git config --local core.hooksPath .git/hooks" in lines[0]
    assert not shared.exists()

    forced = repo.itarch("hook", "install", "--force")

    assert forced.returncode == 0, forced.stderr
    assert (shared / "pre-push").is_file()


def test_the_hook_commands_install_and_uninstall(repo: Repo) -> None:
    installed = repo.itarch("hook", "install", "--mode", "block")
    hook = _hooks(repo) / "pre-push"

    assert installed.returncode == 0, installed.stderr
    assert "installed the pre-push hook (block mode)" in installed.stdout
    assert "--mode block" in hook.read_text()

    removed = repo.itarch("hook", "uninstall")

    assert removed.returncode == 0, removed.stderr
    assert "removed the itarch pre-push hook" in removed.stdout
    assert not hook.exists()


def test_the_full_cli_runs_the_same_hook(repo: Repo) -> None:
    main = repo.sha("main")
    head = repo.change_notify()
    stdin = f"refs/heads/main {head} refs/heads/main {main}\n"

    done = repo.itarch("-v", "hook", "run", "pre-push", "origin", str(repo.remote), stdin=stdin)

    assert done.returncode == 0, done.stderr
    assert f"fix: itarch generate --base {main[:12]}" in done.stderr


def test_a_vanished_interpreter_skips_the_check_but_not_the_kept_hook(repo: Repo) -> None:
    _add_foreign_hook(repo)
    install(repo.path)
    gone = repo.path.parent / "gone" / "python"
    (_hooks(repo) / "pre-push").write_text(script("check", python=str(gone)))
    repo.change_notify()

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert f"itarch: {gone} is gone; pre-push check skipped" in done.stderr
    assert "foreign hook ran" in done.stderr


def test_pre_commit_users_get_the_same_hook(repo: Repo) -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    main = repo.sha("main")
    head = repo.change_notify()
    # What pre-commit does on a push: the entry, run from the hook's environment, with the
    # range in its variables and no ref lines on stdin.
    ran = subprocess.run(
        shlex.split(hook["entry"]),
        cwd=repo.path,
        env={
            **repo.env,
            "PATH": f"{Path(PYTHON).parent}{os.pathsep}{repo.env['PATH']}",
            "PRE_COMMIT_FROM_REF": main,
            "PRE_COMMIT_TO_REF": head,
            "PRE_COMMIT_REMOTE_NAME": "origin",
            "PRE_COMMIT_REMOTE_URL": str(repo.remote),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert hook["stages"] == ["pre-push"]
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False and hook["always_run"] is True
    assert ran.returncode == 0, ran.stderr
    assert f"({main[:12]}..{head[:12]}, update)" in ran.stderr
    assert f"fix: itarch generate --base {main[:12]}" in ran.stderr


def test_install_without_python_says_where_generate_finds_one(repo: Repo) -> None:
    said = install(repo.path, mode="generate")

    assert "ANTHROPIC_API_KEY" in said
    assert "[tool.itarch] python, $VIRTUAL_ENV or .venv/ (or reinstall with --python)" in said
    assert "--python" not in (_hooks(repo) / "pre-push").read_text(encoding="utf-8")
