"""Search on a static host: a Pagefind index of the posts, written with the site.

Pagefind is handed one record per post (title, source, excerpt, topics as filters)
through its Python API, instead of crawling every page of the site: a post appears on
many pages (river, topic, source, digests), and indexing each page would find it many
times and cost far more. Results link to the post itself.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import AggregatorError
from .model import Post
from .output import SiteWriter


class SearchError(AggregatorError):
    """Pagefind is missing or failed."""


def search_records(posts: Sequence[Post], episode_url: dict[str, str]) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    for post in posts:
        url = post.link or episode_url.get(post.id)
        if not url:
            continue
        records.append(
            {
                "url": url,
                "content": f"{post.title}. {post.excerpt}",
                "language": "en",
                "meta": {
                    "title": post.title,
                    "source": post.source,
                    "date": post.published.strftime("%Y-%m-%d"),
                },
                "filters": {"topic": list(post.topic_names) or ["none"], "source": [post.source]},
            }
        )
    return records


async def _write_index(records: list[dict[str, object]], folder: Path) -> None:
    from pagefind.index import IndexConfig, PagefindIndex

    async with PagefindIndex(config=IndexConfig(force_language="en")) as index:
        for record in records:
            await index.add_custom_record(**record)  # type: ignore[arg-type]
        await index.write_files(output_path=str(folder))


def write_search_index(posts: Sequence[Post], episode_url: dict[str, str], writer: SiteWriter) -> int:
    """Index the posts into pagefind/ of the site; returns the records indexed."""
    records = search_records(posts, episode_url)
    with tempfile.TemporaryDirectory(prefix="aggregator-pagefind-") as scratch:
        folder = Path(scratch) / "pagefind"
        try:
            # In a thread of its own: the caller may be running an event loop already.
            with ThreadPoolExecutor(max_workers=1) as thread:
                thread.submit(asyncio.run, _write_index(records, folder)).result()
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
    return len(records)
