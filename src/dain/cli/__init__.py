"""The `dain` command line."""

from dain.cli.app import app, main

__all__ = ["app", "main"]
