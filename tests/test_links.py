"""Links and metadata agree: [project.urls] in pyproject.toml is the one place that names the
repository; the notebook's install cell, every link in the docs and CITATION.cff follow it, no
link points at a repository that is not there, and the version is written once."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

import rnnctl

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
URLS = PYPROJECT["project"].get("urls", {})
NOTEBOOK = ROOT / "notebooks" / "tour.ipynb"
# Every Markdown page whose links must resolve.
PAGES = [pytest.param(p, id=str(p.relative_to(ROOT)))
         for p in sorted([*(ROOT / "docs").glob("*.md"), ROOT / "CHANGELOG.md",
                          ROOT / "README.md"])]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# a URL with a real host name ("https://..." and "https://<host>/..." in instructions are not)
URL = re.compile(r"https?://[A-Za-z0-9][\w-]*(?:\.[\w-]+)+[^\s)\"'`>\]]*")


def _allowed(url: str) -> bool:
    """A URL may only point into what [project.urls] names (or open its notebook in Colab)."""
    for base in URLS.values():
        base = base.rstrip("/")
        if url == base or url.startswith(base + "/"):
            return True
        m = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", base)
        if m and url.startswith(f"https://colab.research.google.com/github/{m[1]}/"):
            return True
    return False


def _notebook_text() -> str:
    nb = json.loads(NOTEBOOK.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"])


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(m[1]) for m in re.finditer(r"^#+\s+(.*)$", text, flags=re.M)}


def test_project_urls_are_https_and_the_notebook_installs_from_the_same_repository():
    assert all(u.startswith("https://") for u in URLS.values()), URLS
    m = re.search(r'^REPOSITORY = "([^"]*)"', _notebook_text(), flags=re.M)
    assert m, "the notebook's install cell must name REPOSITORY"
    assert m[1] == URLS.get("Repository", ""), (m[1], URLS)


def test_no_link_points_at_a_repository_that_is_not_there():
    texts = {"notebooks/tour.ipynb": _notebook_text(),
             "CITATION.cff": (ROOT / "CITATION.cff").read_text(),
             "pyproject.toml": (ROOT / "pyproject.toml").read_text()}
    for page in [*(ROOT / "docs").glob("*.md"), ROOT / "CHANGELOG.md"]:
        texts[str(page.relative_to(ROOT))] = page.read_text()
    bad = [(name, url) for name, text in texts.items() for url in URL.findall(text)
           if not _allowed(url) and "citation-file-format.github.io" not in url]
    assert not bad, bad


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_of_a_page_resolves_in_the_repository(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            if not _allowed(target):
                broken.append(target)
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or ROOT not in [dest, *dest.parents]:
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, broken


def test_version_is_written_once_and_citation_and_license_agree():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "rnnctl._version.__version__"}
    cff = (ROOT / "CITATION.cff").read_text()      # read by line: no YAML parser needed
    top = dict(re.findall(r"^([a-z-]+): *(.+)$", cff, flags=re.M))
    assert top["cff-version"] == "1.2.0" and top["type"] == "software"
    assert top["version"] == rnnctl.__version__
    assert top["license"] == project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    paper = cff[cff.index("\nreferences:"):]
    assert "type: conference-paper" in paper and "year: 2024" in paper and "CCN 2024" in paper
    assert re.findall(r"family-names: (\w+)", paper) == ["Huang", "Singh", "Rajan"]


def test_the_installed_distribution_holds_rnnctl_only_and_its_console_script():
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["rnnctl*"]
    module, _, func = PYPROJECT["project"]["scripts"]["rnnctl"].partition(":")
    import importlib
    assert callable(getattr(importlib.import_module(module), func))
