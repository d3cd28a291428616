"""``python -m standins.llm``: see standins/llm/cli.py."""
from standins.llm.cli import main

raise SystemExit(main())
