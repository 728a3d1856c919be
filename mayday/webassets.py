"""The web pages and every file they load: where they are, whether they are whole, and
how the wheel build copies them into the package.

In a source checkout the server serves ``webclient/`` as it is (its ``node_modules/``
from ``npm ci --prefix webclient``). A wheel carries a copy in ``mayday/web/``, made
at build time by ``setup.py``: the four pages and the closure of what they reference
(``/static/...`` in the HTML, relative module imports and string URLs in the
JavaScript, ``url(...)`` in the CSS), npm files included, in the same layout, so that
``../node_modules/perfect-freehand/...`` resolves unchanged in both. Why copies and
not a bundle is in docs/deploy.md ("The web pages in the wheel").

This module uses the standard library only: ``setup.py`` imports it before mayday's
dependencies are installed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED = PACKAGE_DIR / "web"
CHECKOUT = PACKAGE_DIR.parent / "webclient"
PAGES = ("index.html", "tablet.html", "advisor.html", "ops.html")
FIX = "npm ci --prefix webclient"

_HTML_REF = re.compile(r"""(?:src|href)\s*=\s*["'](/static/[^"'?#]+)["']""")
_JS_REF = re.compile(r"""["'`]((?:\.{1,2}/|/static/)[^"'`\s?#]+\.(?:m?js|css|svg|png|json))["'`]""")
_CSS_REF = re.compile(r"""url\(\s*["']?(?!data:|https?:)([^)"'?#]+)["']?\s*\)""")


def default_root() -> Path:
    """The pages packaged in the wheel when there are any, else the checkout's."""
    return PACKAGED if (PACKAGED / PAGES[0]).is_file() else CHECKOUT


def references(root: Path, path: Path) -> list[Path]:
    """The files that the page, module or style sheet at ``path`` loads, as paths under
    ``root`` (they may not exist)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        return [root / ref.removeprefix("/static/") for ref in _HTML_REF.findall(text)]
    pattern = _CSS_REF if path.suffix == ".css" else _JS_REF
    found = []
    for ref in pattern.findall(text):
        base = root if ref.startswith("/static/") else path.parent
        found.append(base / ref.removeprefix("/static/"))
    return found


def closure(root: Path) -> tuple[set[Path], list[str]]:
    """Every file the pages load, directly or not (relative to ``root``), and a line for
    each one that is missing: which file, and who asked for it."""
    root = root.resolve()
    seen: set[Path] = set()
    missing: list[str] = []
    todo = [(root / page, "the server") for page in PAGES]
    while todo:
        path, wanted_by = todo.pop()
        path = path.resolve()
        if path in seen:
            continue
        if not path.is_relative_to(root) or not path.is_file():
            missing.append(f"{_show(path, root)} (loaded by {wanted_by})")
            continue
        seen.add(path)
        if path.suffix in (".html", ".js", ".mjs", ".css"):
            todo.extend((ref, _show(path, root)) for ref in references(root, path))
    return {p.relative_to(root) for p in seen}, sorted(missing)


def problems(root: Path) -> list[str]:
    """What is missing from ``root`` for the pages to work; empty when they are whole."""
    if not root.is_dir():
        return [f"{root} does not exist"]
    return closure(root)[1]


def copy_pages(source: Path, dest: Path) -> list[Path]:
    """Copy the pages and everything they load from ``source`` into ``dest`` (emptied
    first); refuses, naming what is missing, when they are not whole."""
    files, missing = closure(source)
    if missing:
        raise FileNotFoundError(incomplete_message(source, missing))
    files |= _licences(source, files)
    if dest.exists():
        shutil.rmtree(dest)
    for rel in sorted(files):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target)
    return sorted(files)


def _licences(source: Path, files: set[Path]) -> set[Path]:
    """The licence file of each npm package the pages load from: their licences ask
    that it travels with the copy."""
    packages = {
        Path(*rel.parts[: 3 if rel.parts[1].startswith("@") else 2])
        for rel in files
        if rel.parts[0] == "node_modules"
    }
    return {
        found.relative_to(source)
        for package in packages
        for found in (source / package).glob("LICEN[CS]E*")
        if found.is_file()
    }


def incomplete_message(root: Path, missing: Iterable[str]) -> str:
    shown = list(missing)
    lines = "\n".join(f"  missing: {m}" for m in shown[:5])
    more = f"\n  ... and {len(shown) - 5} more" if len(shown) > 5 else ""
    return f"the web pages in {root} are incomplete:\n{lines}{more}"


def _show(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
