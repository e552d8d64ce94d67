"""An app's own configuration: a pydantic-settings model, read and checked at start."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ValidationError

from .._errors import TempestError

__all__ = ["SettingsError", "load_settings"]

S = TypeVar("S", bound=BaseModel)


class SettingsError(TempestError):
    """The app's settings are missing or invalid; the message lists every problem, each
    with the variable (and the secrets file) it is read from.

    Attributes:
        problems: one line per problem.
    """

    def __init__(self, settings: str, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid settings {settings} ({len(problems)} problem(s)):\n{listed}")


def load_settings(cls: type[S], **values: Any) -> S:
    """Read `cls`, a `pydantic_settings.BaseSettings`, from the environment (and its
    `secrets_dir`, where Kubernetes mounts secrets as files), and check it.

    Call it in the lifespan and yield the result with the app's clients: a problem
    then stops the runner from starting, listed in full, and the settings'
    `SecretStr` values are masked wherever the SDK writes. A `secrets_dir` that does
    not exist (on a laptop) is skipped silently.

    Args:
        cls: the settings class.
        **values: values that win over the environment (tests).

    Raises:
        SettingsError: every missing or invalid value, with the variable to set.
    """
    try:
        with warnings.catch_warnings():
            # pydantic-settings warns about a missing secrets directory: normal outside
            # a cluster, so not worth a warning (nor an error under -W error).
            warnings.filterwarnings("ignore", message=r'directory ".*" does not exist')
            return cls(**values)
    except ValidationError as exc:
        raise SettingsError(cls.__name__, _problems(cls, exc)) from None


def _problems(cls: type[BaseModel], exc: ValidationError) -> list[str]:
    config: Any = cls.model_config
    prefix = str(config.get("env_prefix") or "")
    secrets_dir = config.get("secrets_dir")
    upper = not config.get("case_sensitive", False)
    directories = (
        []
        if secrets_dir is None
        else list(secrets_dir)
        if isinstance(secrets_dir, list | tuple)
        else [secrets_dir]
    )
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        path = [str(part) for part in error["loc"]]
        names = _variables(cls, path[0], prefix) if path else []
        if not names:
            # A rule over several fields (a model validator): no one variable to name.
            where = f"the settings {cls.__name__} as a whole"
        else:
            variables = [name.upper() if upper else name for name in names]
            where = "environment variable " + " or ".join(variables)
            files = [str(Path(directory) / name) for directory in directories for name in variables]
            if files:
                where += f" (or the file {' or '.join(files)})"
        dotted = ".".join(path) or "(root)"
        problems.append(f"{dotted}: {error['msg']}; from {where}")
    return problems


def _variables(cls: type[BaseModel], key: str, prefix: str) -> list[str]:
    """The environment variables a field is read from, given the first part of an error's
    location: the field's name, or one of its validation aliases (taken as they are,
    without the prefix, as pydantic-settings does)."""
    for name, info in cls.model_fields.items():
        alias = info.validation_alias
        choices = (
            [alias]
            if isinstance(alias, str)
            else [choice for choice in alias.choices if isinstance(choice, str)]
            if isinstance(alias, AliasChoices)
            else []
        )
        if key == name or key in choices:
            return choices or [prefix + name]
    return []
