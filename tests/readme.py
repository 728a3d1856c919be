"""The README's commands, read from README.md and run as a reader would paste them.

Each ``sh`` block is run line by line in one shell session (variables exported by one
line reach the next); a ``mayday serve`` line is started in the background and must
serve. What a test machine cannot take as written is substituted, and only that:
the ports (another server may hold 8080), the install and config folders (/opt,
/etc), the Redis URL and ``.venv/bin/`` (the interpreter running the tests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.serving import Served, clean_env

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_ENV_END = "--mayday-readme-env-follows--"


@dataclass(frozen=True)
class Block:
    section: str
    language: str
    text: str

    @property
    def commands(self) -> list[str]:
        """The block's command lines, without comments at their end."""
        lines = (re.sub(r"\s+#.*$", "", line).strip() for line in self.text.splitlines())
        return [line for line in lines if line and not line.startswith("#")]


def blocks(text: str | None = None) -> list[Block]:
    """Every fenced code block of the README with the section (## heading) it is in."""
    text = README.read_text() if text is None else text
    found = []
    for match in _BLOCK.finditer(text):
        headings = re.findall(r"^## (.+)$", text[: match.start()], re.MULTILINE)
        found.append(Block(headings[-1] if headings else "", match.group(1), match.group(2)))
    return found


def section(name: str, language: str = "sh", index: int = 0) -> Block:
    """The ``index``-th block of ``language`` in section ``name``."""
    return [b for b in blocks() if b.section == name and b.language == language][index]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Shell:
    """One shell session: each line runs in bash with the variables the earlier lines
    exported; ``substitutions`` (README text -> test value) are applied to each line."""

    workdir: Path
    cwd: Path = ROOT
    substitutions: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=clean_env)
    servers: list[Served] = field(default_factory=list)

    def line(self, command: str) -> str:
        return substitute(command, self.substitutions)

    def run(self, command: str, timeout: float = 300) -> str:
        """Run one README line to completion; it must exit 0. Its standard output."""
        script = f"set -euo pipefail\n{self.line(command)}\nprintf '%s' '{_ENV_END}'\nenv -0"
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{command!r} failed:\n{done.stdout}\n{done.stderr}"
        out, _, env = done.stdout.partition(_ENV_END)
        self.env = dict(item.split("=", 1) for item in env.split("\0") if "=" in item)
        return out

    def serve(self, command: str) -> Served:
        """Start a README ``mayday serve`` line in the background; it must serve."""
        where = self.workdir / f"server-{len(self.servers)}"
        served = Served(["bash", "-c", f"exec {self.line(command)}"], self.env, where, self.cwd)
        self.servers.append(served)
        return served

    def run_block(self, block: Block) -> list[Served]:
        """Every line of ``block``: servers in the background, the rest to completion."""
        started = []
        for command in block.commands:
            if re.search(r"\bmayday serve\b", command):
                started.append(self.serve(command))
            else:
                self.run(command)
        return started

    def close(self) -> None:
        for served in self.servers:
            served.stop()


def substitute(command: str, substitutions: Mapping[str, str]) -> str:
    for old, new in substitutions.items():
        command = command.replace(old, new)
    return command


def venv_bin() -> str:
    """The ``bin/`` of the interpreter running the tests: the checkout's ``.venv/bin/``
    when run by make."""
    return str(Path(sys.prefix) / "bin") + os.sep


def tracked_copy(dest: Path) -> Path:
    """The checkout's files as a fresh clone has them (tracked, plus new files not
    ignored): no node_modules, no build output, no venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return dest


def iter_commands() -> Iterator[tuple[str, str]]:
    """(section, command) for every line of every ``sh`` block."""
    for block in blocks():
        if block.language == "sh":
            for command in block.commands:
                yield block.section, command
