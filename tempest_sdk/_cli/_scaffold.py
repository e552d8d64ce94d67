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
dependencies = ["tempest-sdk>={sdk_version}"]

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.hatch.build.targets.wheel]
packages = ["{package}"]

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

    name: str = Field("my-item", title="Name", description="The name of the item.")
    size: int = Field(1, ge=1, le=100, title="Size", description="How big the item is.")


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
    external_id = created.response.resource.external_id

    read = invoke(app, "item", "read", external_id=external_id)
    assert read.status == "ok", read.message
    assert read.response.resource.properties == {{"name": "box", "size": 3}}


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
`tempest-sdk serve {package}/app.py` to run it.
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
    values = {"name": name, "package": package, "sdk_version": __version__}
    files = {
        directory / "pyproject.toml": _PYPROJECT,
        directory / "README.md": _README,
        directory / package / "__init__.py": "",
        directory / package / "app.py": _APP,
        directory / "tests" / "test_app.py": _TEST,
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return list(files)
