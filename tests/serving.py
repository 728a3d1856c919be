"""``mayday serve`` as an operator runs it: a real process, its output in files, stopped
with SIGTERM as systemd stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from tests.conftest import SECRET

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 40.0  # TimeoutStopSec of docs/mayday.service


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any MAYDAY_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAYDAY_")}
    env.update(extra)
    return env


def mayday_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """``mayday ARGS`` in this interpreter, to completion."""
    return subprocess.run(
        [sys.executable, "-m", "mayday", *args],
        env=dict(env) if env is not None else clean_env(MAYDAY_JWT_SECRET=SECRET),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Served:
    """A running server process; ``base`` is its http:// address once it serves."""

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], workdir: Path, cwd: Path | None = None
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = workdir / "stdout.txt", workdir / "stderr.txt"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.proc = subprocess.Popen(
                list(command), env=dict(env), stdout=out, stderr=err, cwd=cwd, text=True
            )
        self.base = self._wait_serving()

    def _wait_serving(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            found = re.search(r"serving on (http://[\w.:\[\]-]+)", self.stdout)
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError(
            f"the server did not start (exit {self.proc.returncode}):\n{self.stdout}{self.stderr}"
        )

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws"

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # What it still waited on (the server logs it past the drain's bound).
            raise AssertionError(f"the server did not stop:\n{self.stderr[-8000:]}") from None
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Served:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()


def serve(
    workdir: Path, *args: str, env: Mapping[str, str] | None = None, exe: Sequence[str] = ()
) -> Served:
    """``mayday serve --port 0 ARGS`` (with this interpreter unless ``exe`` is given)."""
    command = [*(exe or (sys.executable, "-m", "mayday")), "serve", "--port", "0", *args]
    return Served(command, env if env is not None else clean_env(MAYDAY_JWT_SECRET=SECRET), workdir)
