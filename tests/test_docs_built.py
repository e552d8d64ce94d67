"""The built documentation site: it builds with `--strict`, and fetches nothing from another host.

The site is built once for the module (about 15 s), as `nox -s docs` builds it. A page
must work offline and on an internal docs host: its scripts, stylesheets, fonts and
images come from the site itself; the diagrams' renderer is the site's own copy of
mermaid (mkdocs-material fetches one from a CDN only when none is loaded); no
stylesheet imports another host's. Links a reader follows (`<a href>`) may go anywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import tempest_sdk

pytest.importorskip("material", reason="the docs extra (mkdocs-material) is not installed")

ROOT = Path(__file__).resolve().parents[1]
MERMAID = "assets/vendor/mermaid/mermaid.min.js"

# What makes a browser fetch: element -> attributes. `<a href>` is followed, not fetched;
# `<link rel=canonical>` only names the page's published address.
FETCHING = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "link": ("href",),
}
NOT_FETCHED_LINKS = {"canonical"}
# mkdocs-material's bundle names these hosts, each behind a guard this module checks.
GUARDED = {
    "https://unpkg.com/mermaid@11/dist/mermaid.min.js": 'typeof mermaid=="undefined"',
    "https://unpkg.com/resize-observer-polyfill": 'typeof ResizeObserver=="undefined"',
}


class _Fetches(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.scripts: list[str] = []
        self.mermaid_blocks = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "link" and set(values.get("rel", "").split()) & NOT_FETCHED_LINKS:
            return
        for name in FETCHING.get(tag, ()):
            if name in values:
                for url in values[name].split(","):
                    self.urls.append((f"<{tag} {name}>", url.strip().split(" ")[0]))
        if tag == "script" and "src" in values:
            self.scripts.append(values["src"])
        if "mermaid" in values.get("class", "").split():
            self.mermaid_blocks += 1
        if "style" in values:
            self.urls += [("style=", url) for url in _css_urls(values["style"])]


def _css_urls(css: str) -> list[str]:
    found = re.findall(r"""url\(\s*['"]?([^'")]+)""", css)
    found += re.findall(r"""@import\s+['"]([^'"]+)""", css)
    return found


def _foreign(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in ("", "data")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return out


def pages(site: Path) -> list[Path]:
    found = sorted(site.rglob("*.html"))
    assert len(found) > 20
    return found


def test_no_page_fetches_from_another_host(site: Path) -> None:
    foreign = []
    for page in pages(site):
        parser = _Fetches()
        parser.feed(page.read_text("utf-8"))
        foreign += [
            f"{page.relative_to(site)}: {where} {url}"
            for where, url in parser.urls
            if _foreign(url)
        ]
    assert not foreign, "\n".join(foreign)


def test_no_stylesheet_fetches_from_another_host(site: Path) -> None:
    stylesheets = sorted(site.rglob("*.css"))
    assert stylesheets
    foreign = [
        f"{sheet.relative_to(site)}: {url}"
        for sheet in stylesheets
        for url in _css_urls(sheet.read_text("utf-8"))
        if _foreign(url)
    ]
    assert not foreign, "\n".join(foreign)


def test_the_theme_names_other_hosts_only_behind_a_guard(site: Path) -> None:
    for script in sorted((site / "assets" / "javascripts").glob("bundle.*.js")):
        text = script.read_text("utf-8")
        named = set(re.findall(r"https://(?:unpkg\.com|cdn\.[a-z.]+|fonts\.[a-z.]+)[^\"'`]*", text))
        assert named <= set(GUARDED), f"{script.name} names {sorted(named - set(GUARDED))}"
        for url, guard in GUARDED.items():
            if url in text:
                at = text.index(url)
                assert guard in text[max(0, at - 120) : at], f"{url} is fetched without {guard}"


def test_diagrams_render_with_the_site_own_mermaid(site: Path) -> None:
    with_diagrams = 0
    for page in pages(site):
        parser = _Fetches()
        parser.feed(page.read_text("utf-8"))
        if not parser.mermaid_blocks:
            continue
        with_diagrams += 1
        local = [src for src in parser.scripts if src.endswith(MERMAID)]
        assert local, f"{page.relative_to(site)} has diagrams but does not load {MERMAID}"
        assert (page.parent / local[0]).resolve() == (site / MERMAID).resolve()
    assert with_diagrams >= 2
    # The copy defines the global that stops the theme from fetching its own.
    assert 'globalThis["mermaid"]' in (site / MERMAID).read_text("utf-8")[-400:]


def test_fonts_are_the_site_own(site: Path) -> None:
    css = (site / "assets" / "stylesheets" / "extra.css").read_text("utf-8")
    fonts = re.findall(r'url\("([^"]+\.woff2)"\)', css)
    assert len(fonts) == 10
    for font in fonts:
        assert (site / "assets" / "stylesheets" / font).resolve().is_file(), font
    assert '--md-text-font: "Roboto"' in css
    assert "fonts.googleapis" not in (site / "index.html").read_text("utf-8")


def test_identifiers_never_break_in_tables(site: Path) -> None:
    css = (site / "assets" / "stylesheets" / "extra.css").read_text("utf-8")
    rule = re.search(r"\.md-typeset table:not\(\[class\]\) code \{([^}]*)\}", css)
    assert rule is not None and "white-space: nowrap" in rule[1]


def test_the_api_reference_starts_with_what_an_app_author_meets(site: Path) -> None:
    html = (site / "reference" / "tempest_sdk" / "index.html").read_text("utf-8")
    shown = re.findall(r'<h2 id="tempest_sdk\.(\w+)"', html)
    assert shown[:4] == ["App", "ResourceType", "Context", "Resource"]
    public = {name for name in tempest_sdk.__all__ if not name.startswith("_")}
    assert sorted(shown) == sorted(public), "every public name once, none left out"
    # A decorator's overloads: its signature is shown once.
    create = html[html.index('id="tempest_sdk.ResourceType.create"') :]
    create = create[: create.index('id="tempest_sdk.ResourceType.read"')]
    assert create.count('class="doc-signature') == 1
