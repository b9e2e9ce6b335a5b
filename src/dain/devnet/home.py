"""The network home: where a local chain keeps its process record, state and contracts."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from dain.errors import ConfigError
from dain.identity import Identity
from dain.ledger import TOKEN_UNIT, Deployment, Ledger, RpcChain, deploy

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


def running_chain(home: NetworkHome) -> ChainRecord | None:
    """The home's chain if its anvil still runs; a stale record is removed."""
    from dain.ledger.anvil import AnvilProcess

    record = home.read_chain()
    if record is None:
        return None
    if not AnvilProcess(record.pid, record.port, None).alive():
        home.chain_record.unlink()
        return None
    return record


def chain_up(home: NetworkHome, port: int, password: str) -> tuple[ChainRecord, Deployment, bool]:
    """Starts anvil with state in the home; deploys the contracts the first time.
    Returns the chain, the deployment and whether it was deployed just now."""
    from dain.ledger.anvil import AnvilProcess, free_port

    if (record := running_chain(home)) is not None:
        raise ConfigError(
            f"A chain already runs for {home.root} at {record.url} (pid {record.pid})."
        )
    home.root.mkdir(parents=True, exist_ok=True)
    anvil = AnvilProcess.start(
        port=port or free_port(), state_file=home.anvil_state, log_file=home.anvil_log
    )
    record = ChainRecord(anvil.url, anvil.pid, anvil.port)
    home.write_chain(record)
    chain = RpcChain(anvil.url)
    if home.deployment.exists():
        deployment = Deployment.load(home.deployment)
        if not chain.web3.eth.get_code(deployment.jobs):  # type: ignore[arg-type]
            anvil.stop()
            home.chain_record.unlink()
            raise ConfigError(
                f"The contracts recorded in {home.deployment} are not on this chain: "
                f"its state file {home.anvil_state} is missing or from another network.",
                hint="Delete the home folder to start a new network.",
            )
        return record, deployment, False
    treasury = Identity.create()
    treasury.save_keystore(home.treasury_keystore, password)
    chain.fund(treasury.address, 10**21)
    deployment = deploy(chain.web3, treasury)
    deployment.save(home.deployment)
    return record, deployment, True


def chain_down(home: NetworkHome) -> ChainRecord | None:
    """Stops the home's anvil by its pid (its state is written on the way out)."""
    from dain.ledger.anvil import AnvilProcess

    record = running_chain(home)
    if record is None:
        return None
    AnvilProcess(record.pid, record.port, home.anvil_state).stop()
    home.chain_record.unlink(missing_ok=True)
    return record


def treasury_ledger(home: NetworkHome, password: str) -> Ledger:
    record = running_chain(home)
    if record is None:
        raise ConfigError(f"No chain runs for {home.root}.", hint="Start one with 'dain chain up'.")
    treasury = Identity.load_keystore(home.treasury_keystore, password)
    return Ledger(RpcChain(record.url), Deployment.load(home.deployment), treasury)


def admit_founder(treasury: Ledger, address: str, tokens: int) -> None:
    """On a test chain: the treasury admits a founding member, with gas money and tokens."""
    treasury.backend.fund(address, 10**19)
    treasury.registry.admit(address)
    if tokens:
        treasury.token.transfer(address, tokens * TOKEN_UNIT)
