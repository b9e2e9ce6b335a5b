"""A local anvil node as a managed process: found in the project's npm packages (or on
PATH), started on 127.0.0.1 with its state persisted to a file, stopped by its own pid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dain.ledger.errors import ChainUnavailable

ANVIL_CHAIN_ID = 31337
STATES_KEPT = 64  # dain reads state at "latest" only; logs and block hashes are kept whole


def find_anvil() -> Path:
    """$DAIN_ANVIL, then the npm package's binary under a node_modules folder above the
    current directory or this source tree, then `anvil` on PATH."""
    if env := os.environ.get("DAIN_ANVIL"):
        return Path(env)
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            found = sorted(folder.glob("node_modules/@foundry-rs/anvil-*/bin/anvil"))
            if found:
                return found[0]
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ChainUnavailable(
        "anvil is not installed.",
        hint="Run 'npm ci' in the dain checkout (it installs anvil), or set DAIN_ANVIL.",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class AnvilProcess:
    pid: int
    port: int
    state_file: Path | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        *,
        port: int | None = None,
        state_file: Path | None = None,
        log_file: Path | None = None,
        block_time: int = 0,
        timeout: float = 20.0,
    ) -> AnvilProcess:
        """`block_time` > 0: besides mining each transaction at once, mine a block every
        that many seconds, so block numbers (votes) and block times (deadlines) move on
        while nobody sends anything; 0: blocks only for transactions and `anvil_mine`."""
        port = port or free_port()
        command = [
            str(find_anvil()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(ANVIL_CHAIN_ID),
            "--silent",
            # Only the newest states, in memory: by default anvil spills older ones to
            # ~/.foundry/anvil/tmp, gigabytes per long run, left behind when it is killed.
            "--prune-history",
            str(STATES_KEPT),
        ]
        if block_time > 0:
            # mixed: automine keeps transactions instant; --block-time alone would hold each
            # one until the next interval
            command += ["--block-time", str(block_time), "--mixed-mining"]
        if state_file is not None:
            command += ["--state", str(state_file)]
        log = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        finally:
            if log_file:
                log.close()  # type: ignore[union-attr]
        anvil = cls(process.pid, port, state_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ChainUnavailable(
                    f"anvil exited at start (code {process.returncode}); see its log."
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return anvil
            except OSError:
                time.sleep(0.05)
        anvil.stop()
        raise ChainUnavailable(f"anvil did not open port {port} within {timeout:.0f} s.")

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil writes its state file on the way out), then SIGKILL if needed."""
        stop_pid(self.pid, signal.SIGTERM, timeout)


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Signals `pid` and waits until it is gone; SIGKILL if it lingers past `timeout`."""
    if pid <= 0:  # 0 or -1 would signal a whole process group: never a single process
        raise ValueError(f"Not a process id: {pid}.")
    for current in (sig, signal.SIGKILL):
        try:
            os.kill(pid, current)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child: poll for its exit instead
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
            time.sleep(0.05)
