"""Developer sessions: `nox -s tests`, `lint`, `types`, `docs`, `bench`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "types"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite."""
    session.install("-e", ".[tests]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check lint and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    """Type-check the package strictly."""
    session.install("-e", ".[tests]")
    session.run("mypy", "--strict", "tempest_sdk")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site, failing on any warning."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session
def bench(session: nox.Session) -> None:
    """Print the runner's figures against their targets in one run (`bench_range.py`:
    concurrency, faults, an outage, CPU per task, import); `nox -s bench -- --quick`
    for a shorter run. The other `benchmarks/bench_*.py` run on their own."""
    session.install("-e", ".", "h11")
    # Exit 1 is the benchmark's "BELOW TARGET": the figures are printed either way.
    session.run("python", "benchmarks/bench_range.py", *session.posargs, success_codes=[0, 1])
