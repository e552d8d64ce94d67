"""`tempest-sdk init`: a new app project that passes its own tests out of the box."""

from __future__ import annotations

import re
from pathlib import Path

from .._version import __version__
from ._errors import CLIError

__all__ = ["scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")

_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{name}"
version = "0.1.0"
description = "A Tempest private app."
requires-python = ">=3.11"
dependencies = ["{sdk_requirement}"]

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.hatch.build.targets.wheel]
packages = ["{package}"]
{hatch_metadata}
[tool.pytest.ini_options]
addopts = ["--strict-markers"]
testpaths = ["tests"]
"""

_APP = '''\
"""{name}: a Tempest private app.

Serve it against the local emulator:   tempest-sdk serve {package}/app.py --emulator
Serve it against Tempest:              TEMPEST_TOKEN=... tempest-sdk serve {package}/app.py
"""

from __future__ import annotations

import itertools

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("{name}", "v1")


class ItemProperties(BaseModel):
    """What Tempest shows for an item."""

    name: str = Field(title="Name", description="The name of the item.")
    size: int = Field(title="Size", description="How big the item is.")


class CreateItem(BaseModel):
    """What a user fills in to create an item."""

    name: str = Field(default="my-item", title="Name", description="The name of the item.")
    size: int = Field(default=1, ge=1, le=100, title="Size", description="How big the item is.")


item = app.resource(
    "item",
    display_name="Item",
    description="An item kept by this app.",
    properties=ItemProperties,
    lifecycle_stage="code",
)

# Replace this in-memory store with calls to the system your app integrates.
_items: dict[str, ItemProperties] = {{}}
_ids = itertools.count(1)


def _resource(external_id: str, props: ItemProperties) -> tempest.Resource:
    return tempest.Resource(
        external_id=external_id, display_name=props.name, properties=props.model_dump()
    )


@item.create
async def create_item(ctx: tempest.Context, input: CreateItem) -> tempest.Resource:
    external_id = f"item-{{next(_ids)}}"
    _items[external_id] = ItemProperties(name=input.name, size=input.size)
    ctx.logger.info("created %s", external_id)
    return _resource(external_id, _items[external_id])


@item.read
async def read_item(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
    props = _items.get(resource.external_id)
    if props is None:
        raise tempest.ResourceNotFoundError(f"no item {{resource.external_id!r}}")
    return _resource(resource.external_id, props)


@item.delete
async def delete_item(ctx: tempest.Context, resource: tempest.Resource) -> None:
    _items.pop(resource.external_id, None)


@item.list
async def list_items(ctx: tempest.Context, cursor: str) -> tempest.Page:
    return tempest.Page(resources=[_resource(i, p) for i, p in sorted(_items.items())])


@item.health_check
async def health(ctx: tempest.Context) -> tempest.Health:
    return tempest.Health.healthy()


if __name__ == "__main__":
    app.run()
'''

_TEST = '''\
"""Tests for {name}, through the same dispatch the runner uses (no network)."""

from __future__ import annotations

from tempest_sdk.testing import invoke

from {package}.app import app


def test_create_then_read():
    created = invoke(app, "item", "create", input={{"name": "box", "size": 3}})
    assert created.status == "ok", created.message
    external_id = created.resource.external_id

    read = invoke(app, "item", "read", external_id=external_id)
    assert read.status == "ok", read.message
    assert read.resource.properties == {{"name": "box", "size": 3}}


def test_invalid_input_is_reported():
    report = invoke(app, "item", "create", input={{"size": 0}})
    assert report.status == "error"
    assert "size" in report.message


def test_describe_declares_the_item_type():
    (definition,) = app.describe().resources
    assert definition.type == "item"
    assert definition.create_supported and definition.read_supported
    assert not definition.update_supported
'''

_GITIGNORE = """\
__pycache__/
*.py[cod]
.venv/
.pytest_cache/
.mypy_cache/
.ruff_cache/
dist/
build/
*.egg-info/
wheels/
outbox/
"""

_DOCKERFILE = """\
# Serves the app as a non-root user and stops gracefully on SIGTERM.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A numeric user, so that Kubernetes' runAsNonRoot can check it is not root.
RUN groupadd --gid 10001 app \\
    && useradd --uid 10001 --gid 10001 --create-home app
WORKDIR /srv/app

# Until tempest-sdk is on the package index, put its wheel in ./wheels first:
#   pip wheel --no-deps --wheel-dir wheels <path or URL of tempest-sdk>
# pyproject.toml may name the SDK by a path on your machine, which the image
# does not have: the sed takes that path out, so pip finds the SDK in
# ./wheels and the app's other dependencies on the index. The prometheus
# extra serves /metrics.
COPY wheels/ /tmp/wheels/
COPY pyproject.toml README.md ./
COPY {package}/ {package}/
RUN sed -i -E 's|"tempest-sdk(\\[[^]]*\\])? @ [^"]*"|"tempest-sdk\\1"|' \\
        pyproject.toml \\
    && pip install --no-cache-dir --find-links /tmp/wheels \\
        . "tempest-sdk[prometheus]"

USER 10001:10001
# SIGTERM drains: running tasks get TEMPEST_RUNNER_SHUTDOWN_GRACE seconds
# (25), then reports are flushed (5 s). Give the container longer than that
# to stop (in Kubernetes: terminationGracePeriodSeconds above 30). The token
# comes from a mounted file (TEMPEST_TOKEN_FILE) or TEMPEST_TOKEN, never from
# the image. The exec form of CMD makes the runner PID 1, so the signal
# reaches it.
STOPSIGNAL SIGTERM
CMD ["tempest-sdk", "serve", "{package}/app.py"]
"""

# Only what the Dockerfile copies goes into the build context: no virtualenv, no
# caches, and no token or .env file that happens to lie in the project.
_DOCKERIGNORE = """\
*
!pyproject.toml
!README.md
!{package}/
!wheels/
**/__pycache__/
**/*.py[cod]
"""

_README = """\
# {name}

A Tempest private app built with `tempest_sdk`.

```console
pip install -e ".[test]"
tempest-sdk serve {package}/app.py --emulator   # every capability, end to end, locally
python -m pytest                                # the tests
```

Against Tempest: set `TEMPEST_TOKEN` (or `TEMPEST_TOKEN_FILE`), then
`tempest-sdk connect {package}/app.py` once per version and
`tempest-sdk serve {package}/app.py` to run it. `Dockerfile` builds an image that
serves it (see the comment at its top for the SDK's wheel).

{sdk_note}
"""


def scaffold(name: str, directory: Path) -> list[Path]:
    """Write a new app project named `name` into `directory`; return the files written.

    Raises:
        CLIError: the name is not a valid app id, or the directory is not empty.
    """
    if not _NAME.match(name):
        raise CLIError(
            f"app name {name!r} is not valid: use lowercase letters, digits and '-', "
            "starting with a letter (it becomes the Tempest app id), e.g. 'my-app'"
        )
    if directory.exists() and any(directory.iterdir()):
        raise CLIError(f"{str(directory)!r} already exists and is not empty; choose another name")
    package = name.replace("-", "_")
    requirement, note = _sdk_requirement()
    values = {
        "name": name,
        "package": package,
        "sdk_requirement": requirement,
        "sdk_note": note,
        # hatchling builds a project with a direct reference only when told it may.
        "hatch_metadata": (
            "\n[tool.hatch.metadata]\nallow-direct-references = true\n"
            if " @ " in requirement
            else ""
        ),
    }
    files = {
        directory / "pyproject.toml": _PYPROJECT,
        directory / "README.md": _README,
        directory / ".gitignore": _GITIGNORE,
        directory / "Dockerfile": _DOCKERFILE,
        directory / ".dockerignore": _DOCKERIGNORE,
        directory / package / "__init__.py": "",
        directory / package / "app.py": _APP,
        directory / "tests" / "test_app.py": _TEST,
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return list(files)


def _sdk_requirement() -> tuple[str, str]:
    """The dependency line that installs the SDK from where this one came, and a note.

    tempest-sdk is not on the package index yet: a project made from a checkout of the
    SDK depends on that checkout (pip's direct reference), so it installs.
    """
    import importlib.metadata
    import json

    try:
        direct = importlib.metadata.distribution("tempest-sdk").read_text("direct_url.json")
        url = json.loads(direct or "{}").get("url") if direct else None
    except (importlib.metadata.PackageNotFoundError, ValueError):
        url = None
    if isinstance(url, str) and url.startswith("file://"):
        return (
            f"tempest-sdk @ {url}",
            f"The SDK comes from {url} (a local checkout): once tempest-sdk is published, "
            f"replace that line in pyproject.toml with `tempest-sdk>={__version__}`.",
        )
    return f"tempest-sdk>={__version__}", ""
