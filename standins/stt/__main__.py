"""``python -m standins.stt``: see standins/stt/cli.py."""
from standins.stt.cli import main

main()
