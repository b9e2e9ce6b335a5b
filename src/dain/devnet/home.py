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
    try:
        chain = RpcChain(anvil.url)
        if home.deployment.exists():
            deployment = Deployment.load(home.deployment)
            _check_on(chain, deployment, home, f"its state file {home.anvil_state} is missing "
                      "or from another network")  # fmt: skip
            return record, deployment, False
        deployment, _ = _deploy_new(home, chain, password)
    except BaseException:  # whatever stopped the deployment, leave no chain running
        anvil.stop()
        home.chain_record.unlink(missing_ok=True)
        raise
    return record, deployment, True


def demo_network(
    home: NetworkHome, chain: RpcChain, password: str
) -> tuple[Deployment, Identity, bool]:
    """The contracts `dain demo --rpc` runs on, with the treasury whose votes admit the
    demo's members: the home's when it has them, else new ones recorded in the home, so
    `dain audit` there finds the demo's job. Also whether they were deployed just now."""
    if not home.deployment.exists():
        return (*_deploy_new(home, chain, password), True)
    deployment = Deployment.load(home.deployment)
    _check_on(chain, deployment, home, "they were deployed on another chain, or it was reset")
    if not home.treasury_keystore.exists():
        raise ConfigError(
            f"{home.root} holds a deployment but not its treasury key ({home.treasury_keystore}), "
            "whose votes admit the demo's hospitals.",
            hint="Run the demo with another --home: it deploys new contracts there.",
        )
    return deployment, treasury_identity(home, password), False


def treasury_identity(home: NetworkHome, password: str) -> Identity:
    return Identity.load_keystore(home.treasury_keystore, password)


def _deploy_new(home: NetworkHome, chain: RpcChain, password: str) -> tuple[Deployment, Identity]:
    """A treasury key saved in the home, the contracts deployed by it, and their record."""
    home.root.mkdir(parents=True, exist_ok=True)
    treasury = Identity.create()
    treasury.save_keystore(home.treasury_keystore, password)
    chain.fund(treasury.address, 10**21)
    deployment = deploy(chain.web3, treasury)
    deployment.save(home.deployment)
    return deployment, treasury


def _check_on(chain: RpcChain, deployment: Deployment, home: NetworkHome, why: str) -> None:
    if deployment.chain_id != chain.chain_id or not chain.code(deployment.jobs):
        raise ConfigError(
            f"The contracts recorded in {home.deployment} are not on the chain at {chain.url}: "
            f"{why}.",
            hint="Point at the chain they are on, use another --home, or delete the home "
            "folder to start a new network.",
        )


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
    treasury = treasury_identity(home, password)
    return Ledger(RpcChain(record.url), Deployment.load(home.deployment), treasury)


def admit_founder(treasury: Ledger, address: str, tokens: int) -> bool:
    """On a test chain: the treasury's votes admit a founding member (the registry admits
    by vote only), with gas money and tokens; a member already gets only those. Whether it
    was admitted just now."""
    from dain.devnet.network import admit_by_vote  # it loads the node package: only here

    treasury.backend.fund(address, 10**19)
    # the same proposal again would have the same id, already executed: the governor refuses
    admitted = not treasury.registry.is_member(address)
    if admitted:
        admit_by_vote(treasury, [address])
    if tokens:
        treasury.token.transfer(address, tokens * TOKEN_UNIT)
    return admitted
