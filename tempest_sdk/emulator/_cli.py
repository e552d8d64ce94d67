"""The emulator standalone: `tempest-sdk emulator` and `python -m tempest_sdk.emulator`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

import anyio

from ._emulator import Emulator

__all__ = ["main"]

_SPEC_HELP = (
    "enqueue a task at start, as APP/VERSION:OPERATION:TYPE[:EXTERNAL_ID] "
    "(create, read, update, delete), APP/VERSION:action:TYPE:NAME[:EXTERNAL_ID] or "
    "APP/VERSION:list:TYPE; repeat for more"
)

_EXAMPLES = """\
examples:
  tempest-sdk emulator
  tempest-sdk emulator --port 8900 --token dev-token
  tempest-sdk emulator --enqueue helloworld/v1:create:example --enqueue helloworld/v1:list:example
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run an emulator on loopback until Ctrl-C or SIGTERM; return the exit code.

    Prints the URL and token to point an app at (`TEMPEST_API_ENDPOINT`,
    `TEMPEST_TOKEN`), logs what happens, and prints a summary when stopped.
    """
    parser = argparse.ArgumentParser(
        prog="tempest-sdk emulator",
        description="Run a local emulator of the Tempest control plane on 127.0.0.1.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0, help="the port (default: any free port)")
    parser.add_argument("--token", help="the bearer token clients must send (default: generated)")
    parser.add_argument("--base-path", default="/api/v1", help="default: /api/v1")
    parser.add_argument(
        "--lease-timeout",
        type=float,
        default=30.0,
        help="seconds before an unreported task is handed out again (default: 30)",
    )
    parser.add_argument("--seed", type=int, help="make task ids reproducible")
    parser.add_argument("--enqueue", action="append", default=[], metavar="SPEC", help=_SPEC_HELP)
    parser.add_argument("--quiet", action="store_true", help="log only violations and errors")
    args = parser.parse_args(argv)
    try:
        emulator = Emulator(
            token=args.token,
            base_path=args.base_path,
            lease_timeout=args.lease_timeout,
            seed=args.seed,
        )
        for spec in args.enqueue:
            _enqueue(emulator, spec)
    except ValueError as exc:
        print(f"tempest-sdk emulator: error: {exc}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING if args.quiet else logging.INFO,
            format="%(asctime)s %(levelname)s %(message)s",
        )
    try:
        return anyio.run(_serve, emulator, args.port, sys.stdout)
    except KeyboardInterrupt:  # platforms without signal receivers
        _summary(emulator, sys.stdout)
        return 0


async def _serve(emulator: Emulator, port: int, out: TextIO) -> int:
    try:
        async with emulator.serve(port=port):
            print(f"Tempest emulator listening at {emulator.url}", file=out)
            print("Point an app at it with:", file=out)
            print(f"  export TEMPEST_API_ENDPOINT={emulator.url}", file=out)
            print(f"  export TEMPEST_TOKEN={emulator.token}", file=out)
            print("Enqueue tasks from another terminal with:", file=out)
            print(
                f"  tempest-sdk enqueue --url {emulator.url} --token {emulator.token} "
                "--app APP --version VERSION list --type TYPE --wait",
                file=out,
            )
            print("Press Ctrl-C to stop.", file=out, flush=True)
            await _until_signal()
    except OSError as exc:
        print(f"tempest-sdk emulator: cannot listen on 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 1
    _summary(emulator, out)
    return 0


async def _until_signal() -> None:
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return
    except NotImplementedError:  # pragma: no cover - Windows: Ctrl-C raises instead
        await anyio.sleep_forever()


def _summary(emulator: Emulator, out: TextIO) -> None:
    counts = emulator.request_counts
    violations = emulator.violations
    print(
        f"Stopped after {sum(counts.values())} requests: {len(emulator.reported())} tasks "
        f"reported, {len(emulator.queued())} queued, {len(emulator.leased())} leased; "
        f"{len(emulator.connects)} connects, {len(emulator.health_reports)} health reports, "
        f"{len(violations)} violations.",
        file=out,
    )
    for violation in violations:
        print(f"  violation: {violation.message}", file=out)
    out.flush()


def _enqueue(emulator: Emulator, spec: str) -> None:
    queue, _, rest = spec.partition(":")
    app_id, _, version = queue.partition("/")
    parts = rest.split(":") if rest else []
    if not app_id or not version or len(parts) < 2:
        raise ValueError(f"--enqueue {spec!r}: expected APP/VERSION:KIND:TYPE[...], see --help")
    kind, resource_type, extra = parts[0], parts[1], parts[2:]
    if kind == "list" and not extra:
        emulator.enqueue_list(app_id, version, resource_type)
    elif kind == "action" and 1 <= len(extra) <= 2:
        external_id = extra[1] if len(extra) == 2 else ""
        emulator.enqueue_action(app_id, version, resource_type, extra[0], external_id=external_id)
    elif kind not in ("list", "action") and len(extra) <= 1:
        external_id = extra[0] if extra else ""
        emulator.enqueue_operation(app_id, version, resource_type, kind, external_id=external_id)
    else:
        raise ValueError(f"--enqueue {spec!r}: wrong number of ':' parts, see --help")
