"""How a round's cost grows with its participants (issue 16).

1. The in-process network (`dain.devnet.scale.ScaleNetwork`: real nodes over the in-memory
   transport, the embedded chain, dain's contracts) runs a plain and a secure-aggregation
   job at 10, 50 and 200 participants, one asset each. Each job runs two rounds; the
   second (steady: no first-use warm-up, no one-time storage gas) is measured: the
   aggregator's time (its handlers, aggregation and recording, chain calls included, and
   of that the time waiting on the chain), bytes per node (median participant, sent plus
   received over the transport), chain calls per node, the round's wall time, and the
   recordRound transaction's gasUsed.
2. The secure-aggregation protocol alone (`dain.learning.secagg`, no chain, no transport)
   at 10, 100 and 1,000 clients: each client's time and bytes, and the aggregator's.

The model is logistic regression on 30 features (62 parameters): training is negligible,
so what grows is the protocol. Growth exponents are least-squares slopes of log(cost)
against log(n) (1 is linear); for secure aggregation's client cost also against
log(n log n) (at most 1: grows at most as n log n). Ends with one JSON line.
`--quick`: 10 and 50 participants, secure aggregation alone at 10 and 100 clients;
`--sizes 10,50,100`: other participant counts for the network part."""

from __future__ import annotations

import argparse
import itertools
import json
import math
import secrets
import statistics
import time
from dataclasses import asdict

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dain.devnet.scale import FEATURES, ScaleNetwork, growth_exponent
from dain.learning import warm_up
from dain.learning.secagg import PairSecrets, RoundSetup, SecAggClient, SecAggServer, public_bytes

PARAMS = FEATURES * 2 + 2  # logistic regression, two classes
GAS_PER_RECEIPT = 25_000
BLOCK_GAS = 30_000_000
NOISE = 0.1  # slack on time exponents: timings on a shared 2-core machine wobble


def network_costs(sizes: list[int]) -> list[dict]:
    net = ScaleNetwork(max(sizes))
    rows = []
    for secure in (False, True):
        for n in sizes:
            job_id = net.job(n, secure=secure)
            net.run_round(job_id, 1)  # first use: model fetch, one-time storage gas
            cost = net.run_round(job_id, 2)
            row = asdict(cost) | {"gas_per_receipt": round(cost.gas_per_receipt)}
            rows.append({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
    return rows


def secagg_costs(n: int) -> dict[str, float]:
    """One secure round of `n` clients summing 62-entry vectors, as the nodes run it."""
    rng = np.random.default_rng(n)
    updates = [rng.normal(0, 0.01, PARAMS) for _ in range(n)]
    parties = tuple(sorted(secrets.randbits(255) for _ in range(n)))  # asset ids are 256-bit
    keys = [X25519PrivateKey.generate() for _ in range(n)]
    setup = RoundSetup(parties, {p: public_bytes(k) for p, k in zip(parties, keys, strict=True)},
                       PARAMS, value_range=1.0, context=bytes(32))  # fmt: skip
    setup_s, pairs = [], []
    for key in keys:  # once per job: what each pair shares
        began = time.perf_counter()
        found = PairSecrets(key)
        for other in parties:
            found.shared(setup.agreement_keys[other])
        setup_s.append(time.perf_counter() - began)
        pairs.append(found)
    clients = [SecAggClient(setup, p, k, s) for p, k, s in zip(parties, keys, pairs, strict=True)]
    server = SecAggServer(setup)
    client_s, sent, received = [0.0] * n, [0] * n, [0] * n
    aggregator_s = 0.0

    def timed(i: int, work):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        out = work()
        client_s[i] += time.perf_counter() - began
        return out

    def size(message: object) -> int:
        return len(json.dumps(message))

    messages = [timed(i, lambda c=c, u=updates[i]: c.share_keys(u)) for i, c in enumerate(clients)]
    began = time.perf_counter()
    for i, message in enumerate(messages):
        sent[i] += size(message.to_dict())
        server.add_shares(message)
    roster = server.close_sharing()
    aggregator_s += time.perf_counter() - began
    roster_bytes = sum(size(m.to_dict()) for m in roster.values())  # each client is shown U1
    for i, client in enumerate(clients):
        masked = timed(i, lambda c=client, u=updates[i]: c.mask(u, roster))
        received[i] += roster_bytes
        sent[i] += masked.nbytes
        began = time.perf_counter()
        server.add_masked(client.me, masked)
        aggregator_s += time.perf_counter() - began
    survivors, dropped = server.close_inputs()
    survivor_bytes = size([hex(p) for p in survivors])
    for i, client in enumerate(clients):
        check = timed(i, lambda c=client: c.consistency_check(survivors, dropped))
        received[i] += survivor_bytes
        sent[i] += size(check.to_dict())
        began = time.perf_counter()
        server.add_check(check)
        aggregator_s += time.perf_counter() - began
    began = time.perf_counter()
    server.close_checks()
    aggregator_s += time.perf_counter() - began
    for i, client in enumerate(clients):
        vouchers = server.vouchers_for(client.me)
        received[i] += survivor_bytes + size({hex(p): v.hex() for p, v in vouchers.items()})
        response = timed(i, lambda c=client, v=vouchers: c.unmask(survivors, dropped, v))
        sent[i] += size(response.to_dict())
        began = time.perf_counter()
        server.add_unmask(response)
        aggregator_s += time.perf_counter() - began
    began = time.perf_counter()
    total = server.total()
    aggregator_s += time.perf_counter() - began
    plain = np.sum(updates, axis=0)
    error = float(np.linalg.norm(total - plain) / np.linalg.norm(plain))
    return {
        "clients": n,
        "degree": setup.k_degree,
        "threshold": setup.k_threshold,
        "client_s": round(statistics.mean(client_s), 6),
        "client_job_setup_s": round(statistics.mean(setup_s), 6),
        "client_sent_bytes": round(statistics.mean(sent)),
        "client_received_bytes": round(statistics.mean(received)),
        "aggregator_s": round(aggregator_s, 4),
        "relative_error": float(f"{error:.3g}"),
    }


def nlogn(n: int) -> float:
    return n * math.log2(n)


def exponents(rows: list[dict], key: str, quantity: str) -> float:
    sizes = [r[key] for r in rows]
    return round(growth_exponent(sizes, [r[quantity] for r in rows]), 3)


def nlogn_exponent(rows: list[dict], key: str, quantity: str) -> float:
    """Slope of log(cost) against log(n log2 n): at most 1 grows at most as n log n."""
    xs = [nlogn(r[key]) for r in rows]
    ys = [r[quantity] for r in rows]
    return round(float(np.polyfit(np.log(xs), np.log(ys), 1)[0]), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 and 50 participants; "
                        "secure aggregation alone at 10 and 100 clients")  # fmt: skip
    parser.add_argument("--sizes", help="participant counts instead, e.g. 10,50,100")
    args = parser.parse_args()
    sizes = [10, 50] if args.quick else [10, 50, 200]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    secagg_sizes = [10, 100] if args.quick else [10, 100, 1_000]
    began = time.perf_counter()
    warm_up()  # PyTorch's one-time optimizer import is no round's cost
    rows = network_costs(sizes)
    plain = [r for r in rows if not r["secure"]]
    secure = [r for r in rows if r["secure"]]
    alone = [secagg_costs(n) for n in secagg_sizes]

    grow: dict[str, dict[str, float]] = {}
    for name, group in (("plain", plain), ("secure", secure)):
        grow[name] = {q: exponents(group, "participants", q)
                      for q in ("aggregator_s", "participant_s", "bytes_per_node",
                                "aggregator_bytes", "reads_per_node", "record_gas",
                                "wall_s")}  # fmt: skip
        grow[name]["participant_s_vs_nlogn"] = nlogn_exponent(group, "participants",
                                                              "participant_s")  # fmt: skip
        grow[name]["bytes_per_node_vs_nlogn"] = nlogn_exponent(group, "participants",
                                                               "bytes_per_node")  # fmt: skip
    grow["secagg_alone"] = {q: exponents(alone, "clients", q)
                            for q in ("client_s", "client_job_setup_s", "client_sent_bytes",
                                      "client_received_bytes", "aggregator_s")}  # fmt: skip
    for q in ("client_s", "client_received_bytes"):
        grow["secagg_alone"][f"{q}_vs_nlogn"] = nlogn_exponent(alone, "clients", q)

    # gas: a line through (receipts, gas); its slope is what one more receipt costs
    marginal = {}
    for name, group in (("plain", plain), ("secure", secure)):
        slope, base = np.polyfit([r["receipts"] for r in group],
                                 [r["record_gas"] for r in group], 1)  # fmt: skip
        worst = max((b["record_gas"] - a["record_gas"]) / (b["receipts"] - a["receipts"])
                    for a, b in itertools.pairwise(group))  # fmt: skip
        marginal[name] = {"gas_per_receipt": round(float(slope)), "base_gas": round(float(base)),
                          "worst_step_gas_per_receipt": round(worst),
                          "receipts_per_30M_block": int((BLOCK_GAS - base) // slope)}  # fmt: skip

    secure_client = grow["secagg_alone"]["client_s_vs_nlogn"]
    met = {
        "plain_aggregator_time_at_most_linear": grow["plain"]["aggregator_s"] <= 1 + NOISE,
        "plain_bytes_per_node_at_most_linear": grow["plain"]["bytes_per_node"] <= 1,
        "secure_client_time_at_most_nlogn (alone)": secure_client <= 1 + NOISE,
        "secure_client_time_at_most_nlogn (network)": (
            grow["secure"]["participant_s_vs_nlogn"] <= 1 + NOISE
        ),
        "secure_client_bytes_at_most_nlogn (network)": (
            grow["secure"]["bytes_per_node_vs_nlogn"] <= 1
        ),
        "gas_linear_at_most_25k_per_receipt": all(
            m["worst_step_gas_per_receipt"] <= GAS_PER_RECEIPT for m in marginal.values()
        ),
    }
    print(json.dumps({
        "model": f"logistic regression on {FEATURES} features ({PARAMS} parameters): the "
                 "protocol, not training, dominates",
        "chain": "embedded (py-evm), one block per transaction",
        "sizes": sizes,
        "network": rows,
        "secagg_alone": alone,
        "exponents": grow,
        "gas": marginal,
        "targets": {"time_exponent_slack": NOISE, "gas_per_receipt": GAS_PER_RECEIPT,
                    "met": met},
        "bench_s": round(time.perf_counter() - began, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
