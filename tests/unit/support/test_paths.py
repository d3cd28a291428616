"""The support paths point at the repository wherever a test file sits."""
from __future__ import annotations

from tests.support.paths import DOMAIN_FILE, MODEL, REPO_ROOT, TESTS_DIR, UPDATES_DATA


def test_paths_name_the_repository_and_its_test_data() -> None:
    assert (REPO_ROOT / "pytest.ini").is_file() and TESTS_DIR == REPO_ROOT / "tests"
    assert (TESTS_DIR / "conftest.py").is_file()
    assert DOMAIN_FILE.is_file()
    assert (UPDATES_DATA / "text.json").is_file()
    assert MODEL.parent == REPO_ROOT / "models"
