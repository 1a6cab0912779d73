"""`python -m bedside` runs the CLI."""

from bedside.cli import main

main()
