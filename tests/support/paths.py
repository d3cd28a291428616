"""Where the repository and the test data are, independent of how deep a test file sits.

Test files moved into ``tests/unit/<package>/``, ``tests/integration/`` and so on (issue 10,
item 6); ``Path(__file__).parent.parent`` would point somewhere else in each folder.
"""
from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS_DIR.parent
#: Meta-shaped webhook bodies, one JSON file per message type (tests/data/updates).
UPDATES_DATA = TESTS_DIR / "data" / "updates"
DOMAIN_FILE = REPO_ROOT / "domain.yml"
#: The trained model end-to-end, integration and reliability tests drive (``make train``).
MODEL = REPO_ROOT / "models" / "current.tar.gz"
