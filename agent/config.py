"""Settings: flags > ITARCH_* environment > [tool.itarch] in the target's pyproject > defaults."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
)

from agent.errors import UserError


class ConfigError(UserError):
    """The configuration is invalid; the message names the setting."""


class Price(BaseModel):
    """US dollars per million tokens."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal


# Published list prices per million tokens; override with [tool.itarch.prices."model-id"].
DEFAULT_PRICES: dict[str, Price] = {
    "opus": Price(
        input=Decimal(5),
        output=Decimal(25),
        cache_write=Decimal("6.25"),
        cache_read=Decimal("0.50"),
    ),
    "sonnet": Price(
        input=Decimal(3),
        output=Decimal(15),
        cache_write=Decimal("3.75"),
        cache_read=Decimal("0.30"),
    ),
    "haiku": Price(
        input=Decimal(1), output=Decimal(5), cache_write=Decimal("1.25"), cache_read=Decimal("0.10")
    ),
}


class Budget(BaseModel):
    """Limits of one run (of each `--resume` of it). Rounds measure work; the rest are caps."""

    model_config = ConfigDict(populate_by_name=True)

    rounds: int = Field(default=5, ge=1, description="judged proposals (propose_tests calls)")
    turns: int = Field(
        default=40,
        ge=1,
        # `iterations` is what this setting was called before rounds were counted apart
        validation_alias=AliasChoices("turns", "iterations"),
        description="model requests, reading turns included: a safety cap",
    )
    tokens: int = Field(default=2_000_000, ge=1, description="input + output, cache reads too")
    dollars: Decimal = Field(default=Decimal("2.00"), ge=0)
    wall_seconds: float = Field(default=1800.0, gt=0)


# Variables `pass_env` refuses, and why: each would undo part of the sandbox, whoever asks.
NEVER_PASSED: dict[str, str] = {
    "ANTHROPIC_API_KEY": "itarch's own API key never reaches a test",
    "HOME": "the sandbox gives every run an empty home of its own",
    "TMPDIR": "the sandbox gives every run a temporary directory of its own",
    **dict.fromkeys(
        ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONPLATLIBDIR"),
        "it changes which code the interpreter loads before the sandbox's own bootstrap",
    ),
    **dict.fromkeys(
        ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"),
        "the sandbox decides pytest's options and plugins",
    ),
    **dict.fromkeys(
        ("LD_PRELOAD", "LD_AUDIT"), "it loads native code into every process of the sandbox"
    ),
}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# The choices of choice settings: a value outside them is refused when the settings load.
Isolation = Literal["auto", "container", "bwrap", "unshare", "process"]
HookMode = Literal["check", "generate", "block"]  # agent.hook.installer.MODES, kept equal


def _choice(value: Any) -> Any:
    """Choices are read as written, give or take case and surrounding blanks."""
    return value.strip().lower() if isinstance(value, str) else value


class SandboxSettings(BaseModel):
    isolation: Isolation = Field(default="auto", description="auto|bwrap|unshare|process")
    test_timeout: float = Field(default=60.0, gt=0, description="per test, seconds")
    run_timeout: float = Field(default=600.0, gt=0, description="per pytest run, seconds")
    memory_mb: int = Field(default=4096, ge=128)
    cpu_seconds: int = Field(default=900, ge=1)
    file_size_mb: int = Field(default=512, ge=1)
    max_processes: int = Field(default=256, ge=8)
    # Variables of itarch's own environment the tests need (a conftest reading DATABASE_URL):
    # passed at every level when set, on top of the allowlist. The user's explicit choice.
    pass_env: list[str] = Field(
        default_factory=list, description="environment variables passed to the tests"
    )

    _isolation = field_validator("isolation", mode="before")(_choice)

    @field_validator("pass_env")
    @classmethod
    def _passable(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not the name of an environment variable")
            if name in NEVER_PASSED:
                raise ValueError(f"{name} cannot be passed to tests: {NEVER_PASSED[name]}")
        return list(dict.fromkeys(names))


class HookSettings(BaseModel):
    mode: HookMode = "check"
    wall_seconds: float = 300.0
    dollars: Decimal = Decimal("0.50")
    # Globs or folders the pre-push hook watches (e.g. ["src/"]); empty = every Python file.
    paths: list[str] = Field(default_factory=list)

    _mode = field_validator("mode", mode="before")(_choice)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ITARCH_",
        env_nested_delimiter="__",
        pyproject_toml_table_header=("tool", "itarch"),
        extra="forbid",
    )

    model: str | None = None
    python: str | None = None
    tests_root: str | None = None
    max_tokens: int = 16_000
    context_tokens: int = 60_000
    reruns: int = Field(default=5, ge=0)
    # Older name of `gates = { mutation = false }`; `gates` overrides it.
    mutation: bool = True
    # `.itarch/index.db`: existing tests' runs are recorded and reused while their files are
    # unchanged (agent/index).
    index: bool = True
    # A run with the same change, context and settings as an earlier one reuses its kept tests.
    reuse: bool = True
    # Older name of `gates = { detects_change = true, kills_mutants = true }`; `gates` overrides
    # it. "detects_change" rejects a test that passes on the base and kills no mutant of the
    # changed lines; "kills_mutants" rejects one that kills no mutant.
    require: list[Literal["detects_change", "kills_mutants"]] = Field(default_factory=list)
    # Gates switched on or off by name (agent/gates.py); a gate not named keeps its
    # default. Declared after `mutation` and `require`, which its validation reads.
    gates: dict[str, bool] = Field(default_factory=dict, validate_default=True)
    budget: Budget = Field(default_factory=Budget)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    hook: HookSettings = Field(default_factory=HookSettings)
    prices: dict[str, Price] = Field(default_factory=dict)
    api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")

    @field_validator("gates", mode="before")
    @classmethod
    def _gate_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_choice(k): v for k, v in value.items()}
        return value

    @field_validator("gates")
    @classmethod
    def _known_gates(cls, gates: dict[str, bool], info: ValidationInfo) -> dict[str, bool]:
        switches = _with_older_keys(
            gates, info.data.get("mutation", True), info.data.get("require", [])
        )
        if switches:
            from agent.gates import check_switches  # settings load before the gates

            check_switches(switches)
        return gates

    @model_validator(mode="after")
    def _older_keys_agree(self) -> Settings:
        """`mutation` and `require` say what `gates` decided, for whoever still reads them."""
        switches = self.gate_switches()
        self.mutation = switches.get("mutation", True)
        self.require = [g for g in ("detects_change", "kills_mutants") if switches.get(g)]
        return self

    def gate_switches(self) -> dict[str, bool]:
        """The gates the configuration switches: `gates`, over the older keys it replaces."""
        return _with_older_keys(self.gates, self.mutation, self.require)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _PYPROJECT.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(PyprojectTomlConfigSettingsSource(settings_cls, toml))
        return tuple(sources)

    def price_for(self, model: str) -> Price:
        """The configured price of a model id, else its family's list price (Sonnet if unknown)."""
        if model in self.prices:
            return self.prices[model]
        for family, price in DEFAULT_PRICES.items():
            if family in model:
                return price
        return DEFAULT_PRICES["sonnet"]


def _with_older_keys(
    gates: dict[str, bool], mutation: bool, require: Sequence[str]
) -> dict[str, bool]:
    older = {name: True for name in require}
    if not mutation:
        older["mutation"] = False
    return older | gates


class _PyprojectPath:
    """Which pyproject.toml the settings read; set per load (settings sources take no arguments)."""

    path: Path | None = None

    def get(self) -> Path | None:
        return self.path


_PYPROJECT = _PyprojectPath()


def load_settings(repo: Path, **overrides: Any) -> Settings:
    """Settings for a target repository; `overrides` are the command-line flags given."""
    pyproject = repo / "pyproject.toml"
    _PYPROJECT.path = pyproject if pyproject.is_file() else None
    flags = {k: v for k, v in overrides.items() if v is not None}
    try:
        with warnings.catch_warnings():
            # pydantic-settings warns that the table header is unused when there is no pyproject.
            warnings.simplefilter("ignore", UserWarning)
            return Settings(**flags)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"bad setting {where!r}: {message}") from None
    except Exception as exc:  # malformed TOML and the like
        raise ConfigError(f"cannot read configuration ({pyproject}): {exc}") from None
    finally:
        _PYPROJECT.path = None


def with_budget(budget: Budget, flags: dict[str, Any]) -> Budget:
    """The budget with command-line limits applied, validated like every other setting."""
    try:
        return Budget.model_validate({**budget.model_dump(), **flags})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "budget." + ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"bad setting {where!r}: {first['msg']}") from None
