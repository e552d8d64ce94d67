"""What the CLI reads from its arguments: inputs, secrets, pairs, TLS files."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ._errors import CLIError

__all__ = ["client_tls", "pairs", "read_input", "secrets_of"]


def secrets_of(items: list[str]) -> dict[str, str]:
    """`--secret` values: `NAME=VALUE`, `NAME=@file` (the file's content), or `NAME` alone
    (the environment variable NAME), so a secret need not sit in argv and shell history."""
    secrets = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not name:
            raise CLIError("--secret takes NAME=VALUE, NAME=@file or NAME")
        if not sep:
            if name not in os.environ:
                raise CLIError(
                    f"--secret {name}: no environment variable {name} to read it from "
                    f"(give NAME=@file or set {name})"
                )
            secrets[name] = os.environ[name]
        elif value.startswith("@"):
            path = Path(value[1:])
            try:
                secrets[name] = path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise CLIError(
                    f"cannot read --secret {name} from {str(path)!r}: {exc.strerror}"
                ) from None
        else:
            secrets[name] = value
    return secrets


def read_input(raw: str | None) -> dict[str, Any] | None:
    """`--input`: a JSON object, or `@file` holding one; None when not given."""
    if raw is None:
        return None
    source = "--input"
    if raw.startswith("@"):
        path = Path(raw[1:])
        source = str(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CLIError(f"cannot read --input file {source!r}: {exc.strerror}") from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CLIError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise CLIError(f'{source} must be a JSON object, like \'{{"color": "blue"}}\'')
    return value


def pairs(items: list[str], flag: str) -> dict[str, str]:
    """`KEY=VALUE` items of a repeatable flag, as a dict."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"{flag} takes KEY=VALUE, got {item.split('=')[0]!r}...")
        pairs[key] = value
    return pairs


def client_tls(args: argparse.Namespace) -> dict[str, Any]:
    """`verify=` and `cert=` for the API client from `--ca-bundle`, `--client-cert` and
    `--client-key`; what is not given is left to the client's environment defaults."""
    if args.client_key and not args.client_cert:
        raise CLIError("--client-key goes with --client-cert")
    tls: dict[str, Any] = {}
    if args.ca_bundle:
        tls["verify"] = args.ca_bundle
    if args.client_cert:
        tls["cert"] = (args.client_cert, args.client_key) if args.client_key else args.client_cert
    return tls
