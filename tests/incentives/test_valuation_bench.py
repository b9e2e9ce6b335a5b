"""bench/valuation.py, small: six rounds of a 16-unit MLP among the bench's ten owners. Clean
owners must earn more by value than the owner with flipped labels and the one with noisy
features; the full bench (20 rounds, liar included) runs outside the suite."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "valuation.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_valuation", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_clean_owners_earn_more_by_value_than_flipped_and_noisy(bench: ModuleType) -> None:
    result = bench.run(bench.Settings(rounds=6, hidden=(16,), compare_exact=False))

    by_value = {row["owner"]: row for row in result["shares_by_value"]}
    clean = [row["bps"] for row in by_value.values() if row["kind"] == "clean"]
    flipped, noisy = (next(r["bps"] for r in by_value.values() if r["kind"] == kind)
                      for kind in ("flipped", "noisy"))  # fmt: skip
    assert min(clean) > flipped and min(clean) > noisy
    assert sum(row["bps"] for row in result["shares_by_examples"]) == 10_000
    assert sum(row["bps"] for row in by_value.values()) == 10_000
    # by examples, the flipped and noisy owners are paid like anyone else
    by_examples = {row["owner"]: row["bps"] for row in result["shares_by_examples"]}
    assert min(by_examples.values()) > 900
