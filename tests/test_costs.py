"""dain.costs: spans count exclusive time, so a round's categories add up to the time spent
in them and none is negative; nothing attached records nothing; threads attached to
different recorders and rounds never mix; a recorder keeps the last rounds only."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from dain.costs import CATEGORIES, Costs, attribute, belongs_to, span, timed


@dataclass(frozen=True)
class Nest:
    """A span of `category` that sleeps `before` ms, runs its children, sleeps `after` ms."""

    category: str
    before: int
    children: tuple[Nest, ...]
    after: int


def nests() -> st.SearchStrategy[Nest]:
    category, pause = st.sampled_from(CATEGORIES), st.integers(0, 3)
    leaf = st.builds(Nest, category, pause, st.just(()), pause)

    def around(inner: st.SearchStrategy[Nest]) -> st.SearchStrategy[Nest]:
        return st.builds(Nest, category, pause, st.lists(inner, max_size=3).map(tuple), pause)

    return st.recursive(leaf, around, max_leaves=6)


def run(nest: Nest) -> None:
    with span(nest.category):  # type: ignore[arg-type]
        time.sleep(nest.before / 1000)
        for child in nest.children:
            run(child)
        time.sleep(nest.after / 1000)


def counted(nest: Nest, parent: str = "") -> dict[str, int]:
    """Spans per category, a span inside one of its own category merged into it."""
    found = {} if nest.category == parent else {nest.category: 1}
    for child in nest.children:
        for category, n in counted(child, nest.category).items():
            found[category] = found.get(category, 0) + n
    return found


@settings(max_examples=25, deadline=None)
@given(nest=nests())
def test_categories_add_up_to_the_wall_time_and_none_is_negative(nest: Nest) -> None:
    costs = Costs()
    with attribute(costs, "1/1"):
        began = time.perf_counter()
        run(nest)
        wall = time.perf_counter() - began

    found = costs.snapshot()["1/1"]
    total = sum(c["seconds"] for c in found.values())
    assert all(c["seconds"] >= 0 for c in found.values())
    assert wall - 0.002 <= total <= wall + 1e-5  # each category rounded to a microsecond
    assert {k: c["count"] for k, c in found.items()} == counted(nest)


def test_nothing_attached_records_nothing() -> None:
    costs = Costs()
    with span("http"), span("serialization"):
        pass
    with attribute(None, "1/1"), span("http"):
        pass
    with attribute(costs, "1/1"):
        pass  # no span: no round appears
    with span("wait"):  # after the block: attached no longer
        pass
    assert costs.snapshot() == {}


def test_a_decorated_function_counts_its_calls() -> None:
    @timed("signature")
    def sign(x: int) -> int:
        return x + 1

    costs = Costs()
    assert sign(1) == 2  # nothing attached
    with attribute(costs, "3/2"):
        assert sign(2) == 3 and sign(3) == 4
    assert costs.snapshot()["3/2"]["signature"]["count"] == 2


def test_threads_attached_to_other_recorders_and_rounds_do_not_mix() -> None:
    first, second = Costs(), Costs()
    together = threading.Barrier(2)

    def work(costs: Costs, key: str, category: str) -> None:
        with attribute(costs, key):
            together.wait()  # both attached at once, their spans interleaved
            for _ in range(50):
                with span(category):  # type: ignore[arg-type]
                    time.sleep(0.0002)

    threads = [threading.Thread(target=work, args=(first, "1/1", "http")),
               threading.Thread(target=work, args=(second, "2/5", "chain_read"))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert list(first.snapshot()) == ["1/1"] and list(first.snapshot()["1/1"]) == ["http"]
    assert list(second.snapshot()) == ["2/5"]
    assert list(second.snapshot()["2/5"]) == ["chain_read"]
    assert first.snapshot()["1/1"]["http"]["count"] == 50


def test_the_same_recorder_carries_on_its_open_spans_another_starts_afresh() -> None:
    mine, peer = Costs(), Costs()
    with attribute(mine, "1/1"), span("http"):
        with attribute(mine), span("signature"):  # this node's own handler, in memory
            belongs_to("1/1")
            time.sleep(0.002)
        with attribute(peer), span("signature"):  # another node's handler, in memory
            belongs_to("1/1")
            time.sleep(0.002)

    spent = mine.snapshot()["1/1"]
    # its own handler's signature is taken off its http; the peer's handling is not
    assert spent["signature"]["seconds"] >= 0.002
    assert 0.002 <= spent["http"]["seconds"] < 0.002 + spent["signature"]["seconds"]
    assert peer.snapshot()["1/1"]["signature"]["count"] == 1


def test_a_round_is_named_once_and_the_last_rounds_are_kept() -> None:
    costs = Costs(keep=3)
    with attribute(costs):
        belongs_to("1/1")
        belongs_to("1/2")  # named already: stays 1/1
        with span("chain_read"):
            pass
    with attribute(costs), span("wait"):  # never named: no round's
        pass
    for round_no in range(2, 6):
        costs.add(f"1/{round_no}", "chain_tx", 0.5)

    assert list(costs.snapshot()) == ["", "1/3", "1/4", "1/5"]
    assert costs.snapshot()["1/5"] == {"chain_tx": {"seconds": 0.5, "count": 1}}
