"""A local test chain for a network home: start and stop anvil, deploy the contracts once,
and act as the treasury that admits founding members. Dev networks only; what a user's
commands read (the chain's URL, the deployment) is `dain.node.network_home`."""

from __future__ import annotations

from dain.errors import ConfigError
from dain.identity import Identity
from dain.ledger import TOKEN_UNIT, Deployment, Ledger, RpcChain, deploy
from dain.node import ChainRecord, NetworkHome, running_chain


def chain_up(
    home: NetworkHome, port: int, password: str, block_time: int = 0
) -> tuple[ChainRecord, Deployment, bool]:
    """Starts anvil with state in the home (and a block every `block_time` seconds besides
    those for transactions, when > 0); deploys the contracts the first time.
    Returns the chain, the deployment and whether it was deployed just now."""
    from dain.ledger import AnvilProcess, free_port

    if (record := running_chain(home)) is not None:
        raise ConfigError(
            f"A chain already runs for {home.root} at {record.url} (pid {record.pid})."
        )
    home.root.mkdir(parents=True, exist_ok=True)
    anvil = AnvilProcess.start(
        port=port or free_port(), state_file=home.anvil_state, log_file=home.anvil_log,
        block_time=block_time,
    )  # fmt: skip
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
    try:
        treasury = Identity.create()
        treasury.save_keystore(home.treasury_keystore, password)
        chain.fund(treasury.address, 10**21)
        deployment = deploy(chain.web3, treasury)
    except BaseException:  # whatever stopped the deployment, leave no chain running
        anvil.stop()
        home.chain_record.unlink(missing_ok=True)
        raise
    deployment.save(home.deployment)
    return record, deployment, True


def chain_down(home: NetworkHome) -> ChainRecord | None:
    """Stops the home's anvil by its pid (its state is written on the way out)."""
    from dain.ledger import AnvilProcess

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
    """On a test chain: the treasury's votes admit a founding member (the registry admits
    by vote only), with gas money and tokens."""
    from dain.devnet.network import admit_by_vote  # it loads the node package: only here

    treasury.backend.fund(address, 10**19)
    admit_by_vote(treasury, [address])
    if tokens:
        treasury.token.transfer(address, tokens * TOKEN_UNIT)
