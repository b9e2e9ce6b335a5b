"""The network home: where a local chain keeps its process record, state and contracts."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from dain.errors import ConfigError

DEFAULT_HOME = Path(os.environ.get("DAIN_HOME", Path.home() / ".dain" / "devnet"))


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
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(
                f"{self.chain_record} is damaged ({exc}).",
                hint="Stop anvil by hand if it runs, then delete that file.",
            ) from exc

    def write_chain(self, record: ChainRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.chain_record.write_text(json.dumps(asdict(record), indent=2) + "\n")


@dataclass(frozen=True)
class ChainRecord:
    """A running local chain: its RPC URL and the pid that `dain chain down` stops."""

    url: str
    pid: int
    port: int
