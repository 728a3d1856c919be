"""The wheel's one build step beyond setuptools: the web pages and the npm files they load,
copied into ``mayday/web/`` (see mayday/webassets.py). Everything else is in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
WEBCLIENT = HERE / "webclient"
sys.path.insert(0, str(HERE))
from mayday import webassets  # noqa: E402  (standard library only; see its docstring)


def npm_ci() -> None:
    """Install the pages' npm packages from the lock file unless they already match it."""
    installed = WEBCLIENT / "node_modules" / ".package-lock.json"
    lock = WEBCLIENT / "package-lock.json"
    if installed.is_file() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("building mayday needs npm: the web pages load packages from npm")
    subprocess.run([npm, "ci", "--prefix", str(WEBCLIENT), "--no-audit", "--no-fund"], check=True)


class BuildWithPages(build_py):
    """``build_py``, then the pages into the built package (not for an editable install,
    which serves ``webclient/`` from the checkout)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        npm_ci()
        dest = Path(self.build_lib) / "mayday" / "web"
        try:
            copied = webassets.copy_pages(WEBCLIENT, dest)
        except FileNotFoundError as exc:
            raise SystemExit(str(exc)) from None
        print(f"mayday: {len(copied)} web files copied into {dest}")


setup(cmdclass={"build_py": BuildWithPages})
