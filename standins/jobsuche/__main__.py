"""``python -m standins.jobsuche``: see standins/jobsuche/cli.py."""
from standins.jobsuche.cli import main

raise SystemExit(main())
