"""``python -m standins.meta_graph``: see standins/meta_graph/cli.py."""
from standins.meta_graph.cli import main

main()
