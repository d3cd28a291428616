"""``python -m rasa_compat.with_hot_path <rasa arguments>``: Rasa's command line with the hot path installed.

Why: the WhatsApp channel installs :func:`rasa_compat.hot_path.install_hot_path` when Rasa
starts it, so ``rasa run`` serves every conversation through those adjustments. ``rasa
test`` loads no channel; run through this module, the test conversations (``make
test-stories``) are predicted by the same code that serves users, and a change to an
adjustment that alters a prediction fails them. Prints, on stderr, how many of TED's
predictions the ensemble needed (:mod:`rasa_compat.deferred_ted`).
"""
from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """Install the hot path, then hand ``argv`` to Rasa's own ``main`` (which may exit)."""
    from rasa_compat.deferred_ted import counters
    from rasa_compat.hot_path import install_hot_path

    install_hot_path()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *argv]
    try:
        rasa_main()
    finally:
        print(f"rasa_compat: TED computed for {counters['computed']} of {counters['deferred']} predictions "
              f"(the others were decided by rules, memorised stories or loops)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
