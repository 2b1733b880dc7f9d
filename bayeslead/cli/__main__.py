"""`python -m bayeslead.cli`."""

from bayeslead.cli.app import main

main()
