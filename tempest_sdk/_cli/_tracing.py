"""`serve`'s OpenTelemetry: traces (and metrics) set up from the standard `OTEL_*`
variables, so that a container traces with no Python entry point of its own.

Turned on by `--otel`, `TEMPEST_RUNNER_OTEL=1`, or `OTEL_TRACES_EXPORTER` naming an
exporter (not `none`); `TEMPEST_RUNNER_OTEL=0` and `OTEL_SDK_DISABLED=true` turn it
off. Then the process gets an OpenTelemetry SDK tracer provider (global, so the
handlers' own instrumented calls join the task's trace) with a batch processor per
exporter of `OTEL_TRACES_EXPORTER` (default `otlp`, as the specification says), its
resource from `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (service name
default: the app ids), and the runner gets the `OpenTelemetry` hook. Metrics are
exported only when `OTEL_METRICS_EXPORTER` names an exporter.

Exporters are found the way OpenTelemetry's own auto-configuration finds them: by
their `opentelemetry_<signal>_exporter` entry points (`console` comes with
opentelemetry-sdk; `otlp` with opentelemetry-exporter-otlp, over gRPC unless
`OTEL_EXPORTER_OTLP_PROTOCOL` says `http/protobuf`). Each exporter reads its own
`OTEL_EXPORTER_*` settings (endpoint, headers, timeout).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ._errors import StartError

if TYPE_CHECKING:
    from .. import App
    from ..runner import RunnerHook

__all__ = ["OTEL_ENV", "Tracing", "set_up_tracing", "tracing_wanted"]

OTEL_ENV = "TEMPEST_RUNNER_OTEL"
_WHY = f"--otel, {OTEL_ENV}=1 or OTEL_TRACES_EXPORTER"
_INSTALL_SDK = "pip install 'tempest-sdk[otel]' opentelemetry-sdk"
# What provides each exporter name of the specification, for the error that says
# what to install.
_PACKAGES = {
    "otlp_proto_grpc": "opentelemetry-exporter-otlp-proto-grpc (or opentelemetry-exporter-otlp)",
    "otlp_proto_http": "opentelemetry-exporter-otlp-proto-http (or opentelemetry-exporter-otlp)",
    "zipkin": "opentelemetry-exporter-zipkin",
    "prometheus": "opentelemetry-exporter-prometheus",
    "console": "opentelemetry-sdk",
}
_PROTOCOLS = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}

logger = logging.getLogger("tempest_sdk.cli")


def tracing_wanted(flag: bool) -> bool:
    """Whether `serve` should set OpenTelemetry up: `--otel`, else `TEMPEST_RUNNER_OTEL`,
    else whether `OTEL_TRACES_EXPORTER` names an exporter.

    Raises:
        StartError: `TEMPEST_RUNNER_OTEL` is not a boolean.
    """
    if _true(os.environ.get("OTEL_SDK_DISABLED", "")):
        return False
    if flag:
        return True
    raw = os.environ.get(OTEL_ENV, "").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    if raw:
        raise StartError(f"{OTEL_ENV}={raw!r} is not a boolean (use 1/true/yes or 0/false/no)")
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    return bool(exporters) and exporters != "none"


def _true(raw: str) -> bool:
    return raw.strip().lower() == "true"


class Tracing:
    """What `set_up_tracing` set up: the runner's hook, and how to flush at the end."""

    def __init__(self, hook: RunnerHook, shutdowns: Sequence[Callable[[], Any]]) -> None:
        self.hook = hook
        self._shutdowns = shutdowns

    def shutdown(self) -> None:
        """Export what is still buffered and stop the exporters."""
        # The providers log an exporter's failure themselves (opentelemetry's loggers).
        for shutdown in self._shutdowns:
            shutdown()


def set_up_tracing(apps: Sequence[App]) -> Tracing:
    """Give the process OpenTelemetry SDK providers from the `OTEL_*` variables.

    Raises:
        StartError: the OpenTelemetry SDK or a named exporter is not installed, or a
            variable names something unknown (the message says what to install).
    """
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from ..runner import OpenTelemetry
    except ImportError as exc:
        raise StartError(
            f"tracing ({_WHY}) needs the OpenTelemetry SDK, which is not installed "
            f"(no module named {getattr(exc, 'name', None)!r}): {_INSTALL_SDK}"
        ) from None

    span_exporters = [_exporter("traces", name) for name in _names("OTEL_TRACES_EXPORTER")]
    metric_names = _names("OTEL_METRICS_EXPORTER", default="none")
    metric_exporters = [_exporter("metrics", name) for name in metric_names]

    resource = Resource.create()
    if not os.environ.get("OTEL_SERVICE_NAME") and str(
        resource.attributes.get(SERVICE_NAME, "")
    ).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "+".join(a.app_id for a in apps)}))

    shutdowns: list[Callable[[], Any]] = []
    current = trace.get_tracer_provider()
    if isinstance(current, trace.ProxyTracerProvider):
        tracer_provider = TracerProvider(resource=resource)
        for span_exporter in span_exporters:
            tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        trace.set_tracer_provider(tracer_provider)
        shutdowns.append(tracer_provider.shutdown)
    else:
        # The app (or `opentelemetry-instrument`) set one up already: theirs is used.
        logger.info("OpenTelemetry: using the tracer provider the process has already")
    if metric_exporters:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        meter_provider = MeterProvider(
            resource=resource,
            metric_readers=[PeriodicExportingMetricReader(e) for e in metric_exporters],
        )
        # The API has no public "is one set?" for metrics: set it, and see whether it
        # took (it does not when the process has one already, which is then used).
        metrics.set_meter_provider(meter_provider)
        if metrics.get_meter_provider() is meter_provider:
            shutdowns.append(meter_provider.shutdown)
        else:
            meter_provider.shutdown()
    return Tracing(OpenTelemetry(), shutdowns)


def _names(variable: str, default: str = "otlp") -> list[str]:
    raw = os.environ.get(variable, "").strip().lower() or default
    if raw == "none":
        return []
    return [name.strip() for name in raw.split(",") if name.strip() and name.strip() != "none"]


def _exporter(signal: str, name: str) -> Any:
    variable = f"OTEL_{signal.upper()}_EXPORTER"
    entry_name = name
    if name == "otlp":
        protocol = (
            os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL")
            or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "grpc"
        ).strip()
        if protocol not in _PROTOCOLS:
            raise StartError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this SDK exports OTLP over "
                f"{' or '.join(repr(p) for p in _PROTOCOLS)}"
            )
        entry_name = _PROTOCOLS[protocol]
    group = f"opentelemetry_{signal}_exporter"
    found = entry_points(group=group, name=entry_name)
    if not found and entry_name != name:
        found = entry_points(group=group, name=name)
    if not found:
        installed = sorted({e.name for e in entry_points(group=group)})
        package = _PACKAGES.get(entry_name)
        fix = (
            f"pip install {package}"
            if package
            else "install the package that provides it, or name another"
        )
        given = (
            f"{variable}={name!r}"
            if os.environ.get(variable, "").strip()
            else f"{variable} is not set, so traces go out over OTLP ({name!r})"
        )
        raise StartError(
            f"{given}: no such {signal} exporter is installed "
            f"(installed: {', '.join(installed) or 'none'}); {fix}"
        )
    try:
        return next(iter(found)).load()()
    except ImportError as exc:
        raise StartError(f"{variable}={name!r}: its exporter cannot be loaded: {exc}") from None
