"""``python -m preview``: see preview/cli.py."""
from preview.cli import main

main()
