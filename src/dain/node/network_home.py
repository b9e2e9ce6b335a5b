"""The network home: which chain a user talks to and which contracts on it.

<home>/chain.json        the local chain's RPC URL, port and pid (while one runs)
<home>/deployment.json   the contracts' addresses
<home>/treasury.json     a local test chain's treasury key (dev networks only)
<home>/anvil-state.json  a local chain's state between runs

Every command that acts on a network reads it, so this module stays light: no web3, no
keys, no PyTorch. Starting and stopping a local chain is the dev harness's job
(`dain.devnet.home`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from dain.errors import ConfigError

DEFAULT_HOME = Path(os.environ.get("DAIN_HOME", Path.home() / ".dain" / "devnet"))


@dataclass(frozen=True)
class ChainRecord:
    """A running local chain: its RPC URL and the pid that `dain chain down` stops."""

    url: str
    pid: int
    port: int


@dataclass(frozen=True)
class NetworkHome:
    root: Path

    @property
    def chain_record(self) -> Path:
        return self.root / "chain.json"

    @property
    def deployment(self) -> Path:
        return self.root / "deployment.json"

    @property
    def treasury_keystore(self) -> Path:
        return self.root / "treasury.json"

    @property
    def anvil_state(self) -> Path:
        return self.root / "anvil-state.json"

    @property
    def anvil_log(self) -> Path:
        return self.root / "anvil.log"

    def read_chain(self) -> ChainRecord | None:
        try:
            return ChainRecord(**json.loads(self.chain_record.read_text()))
        except FileNotFoundError:
            return None
        # ValueError: not JSON, or an integer of thousands of digits
        except (ValueError, TypeError, RecursionError) as exc:
            raise ConfigError(
                f"{self.chain_record} is damaged ({exc}).",
                hint="Stop anvil by hand if it runs, then delete that file.",
            ) from exc

    def write_chain(self, record: ChainRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.chain_record.write_text(json.dumps(asdict(record), indent=2) + "\n")


def running_chain(home: NetworkHome) -> ChainRecord | None:
    """The home's chain if its process still runs; a stale record is removed."""
    record = home.read_chain()
    if record is None:
        return None
    if not pid_alive(record.pid):
        home.chain_record.unlink()
        return None
    return record


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (any user's)."""
    # a signal-0 probe, not the ledger's AnvilProcess: asking whether a chain runs must
    # not load web3
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, under another user
        return True
    return True
