"""`python -m aggregator`: the same command line as the `aggregator` script."""

from .cli import main

main()
