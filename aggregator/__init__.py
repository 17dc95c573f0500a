"""A network-engineering blog and podcast aggregator."""

__version__ = "0.1.0"
