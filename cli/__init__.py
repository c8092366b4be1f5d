"""Command line: `python -m cli run | load-demo | secret`."""
