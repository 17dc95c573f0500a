"""Search on a static host: a Pagefind index of the posts, written with the site.

Pagefind indexes one small record page per post (title, excerpt, source; topics and
source as filters; the post's address as its url), written to a scratch folder and
handed over in one request, instead of crawling every page of the site: a post
appears on many pages (river, topic, source, digests), and indexing those would find
it many times over. One request also matters because Pagefind's Python API answers
requests one at a time, 0.1 s apart: a record each would take half an hour for
20,000 posts. Results link to the post itself.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from html import escape
from pathlib import Path

from ..errors import AggregatorError
from .model import Post
from .output import SiteWriter


class SearchError(AggregatorError):
    """Pagefind is missing or failed."""


def record_page(post: Post, url: str) -> str:
    """The page Pagefind reads for one post; every value escaped."""
    lines = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(post.title)}</title></head><body>",
        f'<h1 data-pagefind-meta="title">{escape(post.title)}</h1>',
        f"<p>{escape(post.excerpt)}</p>",
        f'<p data-pagefind-meta="source">{escape(post.source)}</p>',
        f'<p data-pagefind-meta="date">{post.published:%Y-%m-%d}</p>',
        f'<span data-pagefind-meta="url:{escape(url)}"></span>',
        f'<span data-pagefind-filter="source:{escape(post.source)}"></span>',
    ]
    lines += [f'<span data-pagefind-filter="topic:{escape(name)}"></span>' for name in post.topic_names]
    lines.append("</body></html>")
    return "\n".join(lines)


async def _write_index(pages: Path, folder: Path) -> None:
    from pagefind.index import IndexConfig, PagefindIndex

    # output_path in the config too: leaving the context writes the files once more, to
    # the configured place (by default ./pagefind in the working directory).
    config = IndexConfig(force_language="en", output_path=str(folder))
    async with PagefindIndex(config=config) as index:
        await index.add_directory(str(pages))
        await index.write_files(output_path=str(folder))


def write_search_index(posts: Sequence[Post], episode_url: dict[str, str], writer: SiteWriter) -> int:
    """Index the posts into pagefind/ of the site; returns the posts indexed."""
    indexed = 0
    with tempfile.TemporaryDirectory(prefix="aggregator-pagefind-") as scratch:
        pages, folder = Path(scratch) / "records", Path(scratch) / "pagefind"
        pages.mkdir()
        for post in posts:
            url = post.link or episode_url.get(post.id)
            if url:
                # Named by the post's id: Pagefind names its fragment files by content,
                # which includes this name, so unchanged posts keep their files.
                name = "".join(c if c.isalnum() or c in "-_" else "-" for c in post.id)
                (pages / f"{name}.html").write_text(record_page(post, url), encoding="utf-8")
                indexed += 1
        try:
            # In a thread of its own: the caller may be running an event loop already.
            with ThreadPoolExecutor(max_workers=1) as thread:
                thread.submit(asyncio.run, _write_index(pages, folder)).result()
        except ImportError as exc:
            raise SearchError(
                f"Pagefind is not installed ({exc}); run `pip install 'pagefind[bin]'` in the project's "
                "environment (`make demo` installs it)"
            ) from exc
        except Exception as exc:  # the service is a subprocess: its failures come in many shapes
            raise SearchError(f"Pagefind could not build the search index: {exc}") from exc
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                writer.write(f"pagefind/{path.relative_to(folder).as_posix()}", path.read_bytes())
    return indexed
