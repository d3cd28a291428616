"""scripts/check_layout.py on small temporary trees: dead paths in docs and comments, size limits."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("check_layout", ROOT / "scripts" / "check_layout.py")
check_layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_layout)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


BASE = {
    "docs/privacy.md": "# Privacy\n",
    "privacy/__init__.py": '"""Privacy."""\nfrom privacy.context import user_context\n',
    "privacy/context.py": '"""Keys."""\n\ndef user_context():\n    pass\n',
    "connectors/__init__.py": "",
    "connectors/whatsapp/__init__.py": "",
    "connectors/whatsapp/intake.py": '"""Intake."""\n',
}


def _paths(tmp_path: Path, extra: dict[str, str]) -> list[str]:
    return check_layout.check_paths(_tree(tmp_path, {**BASE, **extra}))


def test_a_doc_naming_a_missing_path_is_flagged_with_file_and_line(tmp_path: Path) -> None:
    findings = _paths(tmp_path, {"README.md": "# x\n\nSee docs/gone.md for more.\n"})
    assert findings == ["README.md:3: names missing path 'docs/gone.md'"]


def test_existing_paths_files_and_folders_are_not_flagged(tmp_path: Path) -> None:
    doc = ("See `docs/privacy.md`, connectors/whatsapp/intake.py:12, `privacy/` and "
           "[the privacy doc](privacy.md) and [readme](../README.md).\n")
    assert _paths(tmp_path, {"docs/a.md": doc, "README.md": "x\n"}) == []


def test_urls_placeholders_generated_and_outside_paths_are_not_flagged(tmp_path: Path) -> None:
    doc = "\n".join([
        "https://example.org/docs/gone.md and http://x/privacy/gone.py",
        "the stories in tests/test_*.yml, tests/unit/<package>/test_<module>.py, tests/...",
        "results in var/dedup.sqlite, models/current.tar.gz, results/nlu, .venv/bin/python",
        "bench/results/results.json is written by a run",
        "/etc/hosts, de/en, and/or, /select_job, rasa/core/channels/channel.py",
        "POST /webhooks/whatsapp/webhook",
    ])
    assert _paths(tmp_path, {"docs/a.md": doc + "\n"}) == []


def test_python_comments_and_docstrings_are_checked_but_code_is_not(tmp_path: Path) -> None:
    source = '\n'.join([
        '"""Module doc naming docs/missing-one.md."""',
        'PATH = "docs/not-checked.md"  # a comment naming docs/missing-two.md',
        'def f():',
        '    """A docstring naming privacy/gone.py."""',
        '    return "privacy/also-not-checked.py"',
    ])
    assert _paths(tmp_path, {"privacy/x.py": source + "\n"}) == [
        "privacy/x.py:1: names missing path 'docs/missing-one.md'",
        "privacy/x.py:2: names missing path 'docs/missing-two.md'",
        "privacy/x.py:4: names missing path 'privacy/gone.py'",
    ]


def test_yaml_comments_and_the_makefile_are_checked(tmp_path: Path) -> None:
    files = {
        "labels.yml": "# words, see docs/privacy.md and docs/gone.md\nkey: docs/value-not-checked.md\n",
        "Makefile": "validate:\n\t$(PY) scripts/missing.py\n",
    }
    assert _paths(tmp_path, files) == [
        "Makefile:2: names missing path 'scripts/missing.py'",
        "labels.yml:1: names missing path 'docs/gone.md'",
    ]


def test_a_path_under_an_expected_but_absent_folder_is_flagged(tmp_path: Path) -> None:
    assert _paths(tmp_path, {"docs/a.md": "run harness/chat.py\n"}) == [
        "docs/a.md:1: names missing path 'harness/chat.py'"]


def test_dotted_module_names_must_resolve(tmp_path: Path) -> None:
    doc = "\n".join([
        "`privacy.context.user_context` and `privacy.user_context` exist",
        "`connectors.whatsapp.webhook` moved",
        "`privacy.tracker_store.EncryptedTrackerStore` moved",
        "`privacy.context.gone_function` was renamed",
        "the label `actions.working_time` is a labels.yml key, privacy.md a file",
    ])
    assert _paths(tmp_path, {"docs/a.md": doc + "\n"}) == [
        "docs/a.md:2: names missing path 'connectors.whatsapp.webhook'",
        "docs/a.md:3: names missing path 'privacy.tracker_store.EncryptedTrackerStore'",
        "docs/a.md:4: names missing path 'privacy.context.gone_function'",
    ]


def test_an_oversized_production_file_and_class_are_flagged(tmp_path: Path) -> None:
    big_class = "class Big:\n" + "    x = 1\n" * 200            # 201 lines
    small_class = "class Small:\n" + "    x = 1\n" * 199        # 200 lines: at the limit
    long_file = "\n".join(f"X{i} = {i}" for i in range(401)) + "\n"
    root = _tree(tmp_path, {
        "connectors/whatsapp/big.py": big_class,
        "connectors/whatsapp/small.py": small_class,
        "privacy/long.py": long_file,
        "privacy/ok.py": "\n".join(f"X{i} = {i}" for i in range(400)) + "\n",
        "tests/test_long.py": long_file + big_class,
    })
    assert check_layout.check_sizes(root) == [
        "connectors/whatsapp/big.py:1: class Big has 201 lines (limit 200)",
        "privacy/long.py:1: file has 401 lines (limit 400)",
    ]


def test_main_exits_1_on_findings_and_0_on_a_clean_tree(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    clean = _tree(tmp_path / "clean", {"docs/a.md": "see docs/a.md\n"})
    assert check_layout.main(["--root", str(clean)]) == 0
    dirty = _tree(tmp_path / "dirty", {"docs/a.md": "see docs/b.md\n"})
    assert check_layout.main(["--root", str(dirty)]) == 1
    assert "docs/a.md:1: names missing path 'docs/b.md'" in capsys.readouterr().out


def test_hidden_and_virtualenv_folders_are_not_scanned(tmp_path: Path) -> None:
    root = _tree(tmp_path, {".venv/lib/x.py": "# docs/gone.md\n" + "x = 1\n" * 500,
                            ".ci/notes.md": "docs/gone.md\n"})
    assert check_layout.check_paths(root) == []
    assert check_layout.check_sizes(root) == []
