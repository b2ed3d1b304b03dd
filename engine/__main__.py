"""`python -m engine` runs the command line."""

from .cli import run

run()
