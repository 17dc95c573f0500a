"""The README and the manual in docs/: what a user copies from them works, and every
command, every feeds.yaml key and every link is where the README says it is."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from aggregator import config as config_module
from aggregator.cli import cli
from aggregator.config import load_config

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _yaml_blocks(path: Path) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a Markdown page's headings."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return anchors


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1].split("\n", 1)[1]
    commands = [ln.split("#")[0].strip() for ln in first_block.splitlines() if ln.strip()]
    assert commands[:2] == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nmake test\n" in ci, "the README's test command must be what CI runs"


def test_the_readme_links_every_page_of_the_manual() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert PAGES, "docs/ has no pages"
    for page in PAGES:
        assert f"](docs/{page.name})" in readme, f"README does not link docs/{page.name}"


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_every_link_between_the_pages_leads_somewhere(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        assert linked.exists(), f"{page.name}: the link {target} names no file"
        if anchor:
            assert anchor in _anchors(linked), f"{page.name}: the link {target} names no heading"


def test_the_manual_documents_every_command() -> None:
    commands = (DOCS / "commands.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"| `aggregator {name}" in commands, f"docs/commands.md has no row for `aggregator {name}`"


def test_the_complete_example_has_every_key_and_is_a_valid_configuration(tmp_path: Path) -> None:
    """The configuration page's complete example and the digest page's example, together,
    name every key feeds.yaml accepts, and `check` accepts them as they are printed."""
    text = "".join(_yaml_blocks(DOCS / "configuration.md")[:1] + _yaml_blocks(DOCS / "digest.md")[:1])
    example: dict[str, Any] = yaml.safe_load(text)
    sections: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
        ("top level", example, config_module.TOP_KEYS),
        ("site", example["site"], config_module.SITE_KEYS),
        ("fetch", example["fetch"], config_module.FETCH_KEYS),
        ("feeds[]", example["feeds"][0], config_module.FEED_KEYS),
        ("digest", example["digest"], config_module.DIGEST_KEYS),
        ("digest.smtp", example["digest"]["smtp"], config_module.SMTP_KEYS),
        ("digest.subscribers[]", example["digest"]["subscribers"][0], config_module.SUBSCRIBER_KEYS),
    ]
    for section, given, keys in sections:
        missing = sorted(set(keys) - set(given))
        assert not missing, f"the documented example lacks {section} keys {missing}"
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / example["digest"]["smtp"]["ca_file"]).write_text("")  # the files it names exist
    loaded = load_config(path)
    assert loaded.feeds[0].url == example["feeds"][0]["url"]


def test_the_readme_minimal_configuration_is_valid(tmp_path: Path) -> None:
    (block,) = _yaml_blocks(ROOT / "README.md")
    path = tmp_path / "feeds.yaml"
    path.write_text(block, encoding="utf-8")
    loaded = load_config(path)
    assert [feed.kind for feed in loaded.feeds] == ["blog", "podcast"]
