"""docs/cli.md names every option of `serve` that its parser defines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tempest_sdk._cli._main import main

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _section(title: str) -> str:
    text = GUIDE.read_text("utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def test_the_serve_section_names_every_serve_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    offered = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", capsys.readouterr().out))
    offered.discard("--help")
    assert "--operations-address" in offered  # the option this test was written for
    documented = set(re.findall(r"`(--[a-z][a-z-]*)", _section("`serve`")))
    assert sorted(offered - documented) == [], "serve options missing from docs/cli.md"
    assert sorted(documented - offered) == [], "docs/cli.md names options serve lacks"
