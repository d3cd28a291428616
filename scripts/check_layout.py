"""Layout checks run by ``make validate``: named paths exist, production modules stay small.

Why (issue 10, items 7 and "done when"): a comment or a doc that names a file which has moved
sends a newcomer the wrong way, and a module that grows past a few hundred lines stops having one
job. Both decay silently, so a fast check in ``make validate`` keeps them honest. Standard library
only, so it runs before anything is installed.

1. Named paths. Every repository path named in the docs (every ``*.md``), the Makefile, the
   comments and docstrings of ``*.py`` files and the comments of ``*.yml`` files must exist:

   * slash paths whose first part is a top-level entry of the repository (or one of
     ``EXPECTED_ROOTS``), e.g. ``docs/privacy.md``, ``connectors/whatsapp/``, relative to the
     repository root, or to the naming file's folder (Markdown links work that way);
   * dotted module names whose first part is a top-level Python package, e.g.
     ``privacy.context.user_context``: each part must be a package, a module, or a name that
     the module (or the package's ``__init__.py``) mentions. A short name that could as well be
     a key path of labels.yml (``actions.working_time``) is let pass.

   Ignored: URLs, globs and placeholders (anything with ``*``, ``?``, ``<``, ``{``, ``$``,
   ``...``), absolute paths, and what is generated or installed rather than kept in the
   repository (``IGNORED_ROOTS``: runtime data, trained models, results, the virtualenv).

2. Size limits for production code (every ``*.py`` outside ``tests/``): no file over
   ``MAX_FILE_LINES`` lines, no class over ``MAX_CLASS_LINES`` (``end_lineno - lineno + 1``).

Every finding is printed as ``file:line: message``; the exit status is 1 when there is any.
Usage: ``python scripts/check_layout.py [--root DIR]``.
"""
from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

MAX_FILE_LINES = 400
MAX_CLASS_LINES = 200

# Generated, installed or runtime folders: named in docs, never kept in the repository.
IGNORED_ROOTS = frozenset({".venv", "var", "models", "results", ".rasa", ".git", "__pycache__",
                           ".pytest_cache", ".hypothesis", "node_modules", ".secrets"})
# Top-level folders of the layout (docs/architecture.md): a path under one of them is checked
# even when the folder itself is missing, so a doc cannot name a package that was never made.
EXPECTED_ROOTS = frozenset({"actions", "bench", "connectors", "data", "docs", "harness", "locking", "nlu", "speech",
                            "httpkit", "privacy", "prompts", "reports", "scripts", "standins", "tests",
                            "wording"})

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S*")
# A word as a path would be written: letters, digits and the characters of paths, globs and
# placeholders (the latter only so that a placeholder word can be recognised and skipped).
_WORD = re.compile(r"[A-Za-z0-9_.\-/*?<>{}$~%+=@:…\\]+")
_PLACEHOLDER = re.compile(r"[*?<>{}$~%+=@…\\]|\.\.\.")
_DOTTED = re.compile(r"(?<![\w./\-])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
_IDENT = r"(?<!\w){}(?!\w)"


def iter_files(root: Path) -> Iterator[Path]:
    """Every file of the tree except hidden and ignored folders, in a stable order."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(part in IGNORED_ROOTS or part.startswith(".") for part in rel[:-1]):
            continue
        if path.is_file():
            yield path


def python_text_lines(source: str) -> list[tuple[int, str]]:
    """(line number, text) of every comment and docstring line of a Python source."""
    lines = source.splitlines()
    found: list[tuple[int, str]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found.append((tok.start[0], tok.string))
    except (tokenize.TokenError, SyntaxError):
        pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            doc = body[0]
            for number in range(doc.lineno, (doc.end_lineno or doc.lineno) + 1):
                found.append((number, lines[number - 1]))
    return sorted(found)


def yaml_comment_lines(source: str) -> list[tuple[int, str]]:
    """(line number, comment text) of a YAML file: a ``#`` at the start or after a blank."""
    found = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = re.search(r"(?:^|\s)#(.*)$", line)
        if match:
            found.append((number, match.group(1)))
    return found


def texts_to_check(root: Path) -> Iterator[tuple[Path, int, str]]:
    """(file, line number, text) of every comment, docstring and doc line that may name paths."""
    for path in iter_files(root):
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix == ".py":
            lines = python_text_lines(source)
        elif path.suffix in {".yml", ".yaml"}:
            lines = yaml_comment_lines(source)
        elif path.suffix == ".md" or path.name == "Makefile":
            lines = list(enumerate(source.splitlines(), start=1))
        else:
            continue
        for number, text in lines:
            yield path, number, text


class PathChecker:
    """Decides whether a word names a repository path or module, and whether that exists."""

    def __init__(self, root: Path) -> None:
        self.root = root
        top = {p.name for p in root.iterdir() if not p.name.startswith(".")}
        self.roots = (top | EXPECTED_ROOTS) - IGNORED_ROOTS
        self.packages = {p.name for p in root.iterdir()
                         if p.is_dir() and (p / "__init__.py").is_file()} - IGNORED_ROOTS
        self._texts: dict[Path, str] = {}

    def missing_paths(self, text: str, folder: Path) -> list[str]:
        """The slash paths and dotted module names in ``text`` that do not exist."""
        text = _URL.sub(" ", text)
        missing = [w for w in self._slash_paths(text) if not self._path_exists(w, folder)]
        missing += [d for d in _DOTTED.findall(text) if not self._dotted_exists(d)]
        return missing

    def _slash_paths(self, text: str) -> Iterator[str]:
        for word in _WORD.findall(text):
            if _PLACEHOLDER.search(word):
                continue
            word = word.split(":", 1)[0].rstrip(".,;")
            if word.startswith("./"):
                word = word[2:]
            if "/" not in word or word.startswith("/") or "//" in word:
                continue
            parts = word.split("/")
            if any(part in IGNORED_ROOTS for part in parts):
                continue  # generated or installed (bench/results/, var/...): not kept in git
            if parts[0] == ".." or parts[0] in self.roots:
                yield word

    def _path_exists(self, word: str, folder: Path) -> bool:
        for base in (self.root, folder):
            candidate = (base / word).resolve()
            if candidate.exists() and candidate.is_relative_to(self.root.resolve()):
                return True
        return False

    def _dotted_exists(self, dotted: str) -> bool:
        parts = dotted.split(".")
        if parts[0] not in self.packages:
            return True  # not ours: a library, an attribute, a file name
        if len(parts) == 2 and parts[1] in {"md", "py", "yml", "yaml", "txt", "json", "sh", "lock"}:
            return True  # a file name such as privacy.md, checked as a path when it has a folder
        here = self.root / parts[0]
        for index, part in enumerate(parts[1:], start=1):
            if (here / part).is_dir():
                here = here / part
                continue
            if (here / f"{part}.py").is_file():
                return self._mentions(here / f"{part}.py", parts[index + 1:index + 2])
            if self._mentions(here / "__init__.py", [part]):
                return True
            # Not a module and not named by the package. A key path of labels.yml
            # ("actions.working_time") looks the same, so only a name that goes below the
            # top-level package or names a class is taken for a module path.
            following = parts[index + 1:index + 2]
            return not (index >= 2 or (following and following[0][:1].isupper()))
        return True

    def _mentions(self, module: Path, names: list[str]) -> bool:
        """Whether the module's text mentions the (first) name after it, e.g. a re-export."""
        if not names:
            return True
        if module not in self._texts:
            try:
                self._texts[module] = module.read_text(encoding="utf-8")
            except OSError:
                self._texts[module] = ""
        return re.search(_IDENT.format(re.escape(names[0])), self._texts[module]) is not None


def check_paths(root: Path) -> list[str]:
    """``file:line: names missing path ...`` for each dead reference."""
    checker = PathChecker(root)
    findings = []
    for path, number, text in texts_to_check(root):
        for word in checker.missing_paths(text, path.parent):
            findings.append(f"{path.relative_to(root)}:{number}: names missing path {word!r}")
    return findings


def check_sizes(root: Path) -> list[str]:
    """Production files over MAX_FILE_LINES lines and classes over MAX_CLASS_LINES."""
    findings = []
    for path in iter_files(root):
        rel = path.relative_to(root)
        if path.suffix != ".py" or rel.parts[0] == "tests":
            continue
        source = path.read_text(encoding="utf-8")
        count = len(source.splitlines())
        if count > MAX_FILE_LINES:
            findings.append(f"{rel}:1: file has {count} lines (limit {MAX_FILE_LINES})")
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            findings.append(f"{rel}:{exc.lineno or 1}: does not parse")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    findings.append(f"{rel}:{node.lineno}: class {node.name} has {length} lines "
                                    f"(limit {MAX_CLASS_LINES})")
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    root = parser.parse_args(argv).root.resolve()
    findings = check_paths(root) + check_sizes(root)
    for finding in findings:
        print(finding)
    if findings:
        print(f"check_layout: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
