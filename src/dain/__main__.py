"""`python -m dain` runs the command line."""

from dain.cli import main

main()
