"""One exception root for everything the aggregator raises on purpose.

A feed's failure is *not* an exception that leaves the pipeline: fetch and parse
errors are caught per feed and turned into a FeedOutcome. The exceptions that do
reach the CLI (ConfigError, DatabaseError, LockHeld) stop the run with a message.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Root of every error the aggregator raises."""


class ConfigError(AggregatorError):
    """feeds.yaml is unreadable or invalid. Carries every problem found, not just the first."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the configuration:\n{lines}")


class DatabaseError(AggregatorError):
    """The SQLite database cannot be opened, migrated or written."""


class LockHeld(AggregatorError):
    """Another run holds the database lock."""


class FeedError(AggregatorError):
    """A problem with one feed. Caught per feed and recorded as its outcome."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message
        super().__init__(url, message)  # both in args, so it pickles across processes

    def __str__(self) -> str:
        return f"{self.url}: {self.message}"


class FetchError(FeedError):
    """The feed could not be fetched (network, HTTP status, limits, address policy)."""


class BlockedAddress(FetchError):
    """The feed or a redirect resolved to an address the configuration does not allow."""


class ParseError(FeedError):
    """The response body is not a usable feed."""


class ModelError(AggregatorError):
    """The trained model is missing, damaged or made for another version."""
