"""`python -m mtlsaudit` runs the command line."""

from mtlsaudit.cli import main

main()
