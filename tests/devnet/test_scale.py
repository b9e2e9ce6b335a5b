"""The scale bench's small version (issue 16): plain rounds of 10, 20 and 50 owners on the
in-process network. A round's record costs a fixed base plus a constant gas per receipt,
at most 25,000; what each participant sends and receives does not grow with the round.
Gas and bytes are deterministic enough to assert; times are never asserted."""

from __future__ import annotations

import pytest

from dain.devnet.scale import RoundCost, ScaleNetwork, growth_exponent

pytestmark = pytest.mark.slow

SIZES = (10, 20, 50)


@pytest.fixture(scope="module")
def steady_rounds() -> dict[int, RoundCost]:
    """Per size, the second round of a plain job (the first pays one-time storage)."""
    net = ScaleNetwork(max(SIZES))
    found = {}
    for n in SIZES:
        job_id = net.job(n, secure=False)
        net.run_round(job_id, 1)
        found[n] = net.run_round(job_id, 2)
    return found


def test_every_owner_leaves_a_receipt(steady_rounds: dict[int, RoundCost]) -> None:
    for n, cost in steady_rounds.items():
        assert cost.participants == n
        assert cost.receipts == n


def test_record_gas_grows_linearly_at_most_25k_per_receipt(
    steady_rounds: dict[int, RoundCost],
) -> None:
    gas = {n: c.record_gas for n, c in steady_rounds.items()}

    per_receipt = (gas[50] - gas[10]) / 40
    low, high = (gas[20] - gas[10]) / 10, (gas[50] - gas[20]) / 30

    assert per_receipt <= 25_000
    # one more receipt costs about the same at any size (receipts differ a little: random
    # asset ids and signatures are calldata, and the aggregator's values vary)
    assert abs(low - high) <= 0.1 * per_receipt
    assert gas[10] - 10 * per_receipt > 0  # a fixed base besides: gas per receipt falls with n
    assert steady_rounds[50].gas_per_receipt < steady_rounds[10].gas_per_receipt


def test_a_participants_traffic_does_not_grow_with_the_round(
    steady_rounds: dict[int, RoundCost],
) -> None:
    sizes = list(SIZES)
    per_node = [steady_rounds[n].bytes_per_node for n in sizes]
    to_aggregator = [steady_rounds[n].aggregator_bytes for n in sizes]

    assert max(per_node) <= 1.02 * min(per_node)
    assert growth_exponent(sizes, per_node) <= 0.01
    # the aggregator's traffic is the participants' summed: linear in n
    assert 0.8 <= growth_exponent(sizes, to_aggregator) <= 1.05
