from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from agent.config import ConfigError, load_settings


def test_precedence_flags_over_env_over_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.itarch]\nmodel = "from-file"\nreruns = 3\n[tool.itarch.budget]\ndollars = 0.5\n'
        '[tool.itarch.prices."m-1"]\ninput = 1\noutput = 2\ncache_write = 3\ncache_read = 4\n'
    )
    assert load_settings(tmp_path).model == "from-file"
    monkeypatch.setenv("ITARCH_MODEL", "from-env")
    settings = load_settings(tmp_path)
    assert settings.model == "from-env"
    assert settings.reruns == 3
    assert settings.budget.dollars == Decimal("0.5")
    assert settings.price_for("m-1").cache_read == Decimal(4)
    assert load_settings(tmp_path, model="from-flag").model == "from-flag"


def test_unknown_family_is_priced_as_sonnet_and_families_are_recognised(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert s.price_for("claude-haiku-4-5").input == Decimal(1)
    assert s.price_for("something-else") == s.price_for("claude-sonnet-4-6")


def test_bad_config_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.itarch]\nreruns = 'many'\n")
    with pytest.raises(ConfigError, match="reruns"):
        load_settings(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.itarch]\nunknown_key = 1\n")
    with pytest.raises(ConfigError, match="unknown_key"):
        load_settings(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.itarch\n")
    with pytest.raises(ConfigError):
        load_settings(tmp_path)


@pytest.mark.parametrize(
    ("table", "line", "expected"),
    [
        ("sandbox", 'isolation = "chroot"', "bad setting 'sandbox.isolation': Input should be"),
        ("hook", 'mode = "loud"', "bad setting 'hook.mode': Input should be 'check', 'generate'"),
    ],
)
def test_a_choice_outside_its_choices_is_refused_at_load(
    tmp_path: Path, table: str, line: str, expected: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.itarch.{table}]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(tmp_path)
    assert "\n" not in str(caught.value)


def test_choices_are_read_whatever_their_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ITARCH_SANDBOX__ISOLATION", " Process ")
    monkeypatch.setenv("ITARCH_HOOK__MODE", "BLOCK")
    settings = load_settings(tmp_path)
    assert (settings.sandbox.isolation, settings.hook.mode) == ("process", "block")


def test_the_hook_knows_the_same_modes_as_the_settings() -> None:
    from typing import get_args

    from agent.config import HookMode
    from agent.hook import MODES

    assert tuple(MODES) == get_args(HookMode)


@pytest.mark.parametrize(
    ("command", "setting"),
    [
        (["pr", "--max-dollars", "-1"], "budget.dollars"),
        (["generate", "--base", "HEAD", "--max-dollars", "-1"], "budget.dollars"),
    ],
)
def test_command_line_values_are_validated_like_settings(
    tmp_path: Path, command: list[str], setting: str
) -> None:
    import subprocess

    from typer.testing import CliRunner

    from agent.cli.main import app

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = CliRunner().invoke(app, ["--repo", str(tmp_path), *command])
    assert result.exit_code == 2
    assert f"bad setting {setting!r}" in " ".join(result.output.split())
