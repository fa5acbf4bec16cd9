"""How long the whole proof run takes (``iabp prove``), median of several runs.

    python benchmarks/bench_prove.py [--runs 5] [--out benchmarks/results/prove.md]

Each run proves every property of the spec from a fresh proof context (solver queries,
witness search, no artifact writing) and then the monitor theorem for every runtime rule,
as ``iabp prove`` does, in this process, one after the other.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import z3

from iabp.proofs.prover import prove_all
from iabp.proofs.results import PropertyResult, Status
from iabp.spec.iabp import iabp_spec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/prove.md"))
    args = ap.parse_args()
    spec = iabp_spec()
    times, queries, n_rules = [], 0, 0
    for _ in range(args.runs):
        t0 = time.perf_counter()
        rules: list[PropertyResult] = []
        results = prove_all(spec, list(spec.properties), monitor_rules=rules)
        times.append(time.perf_counter() - t0)
        assert all(r.status is Status.PROVED for _, r in results)
        assert all(r.status is Status.PROVED for r in rules)
        queries = sum(len(r.queries) for _, r in results) + sum(len(r.queries) for r in rules)
        n_rules = len(rules)
    med = statistics.median(times)
    text = (f"# Proof run time\n\n{len(spec.properties)} properties and the monitor theorem "
            f"for {n_rules} runtime rules, {queries} SMT queries, "
            f"z3 {z3.get_version_string()}, {args.runs} runs on one core.\n\n"
            f"| median (s) | min (s) | max (s) |\n|---|---|---|\n"
            f"| {med:.2f} | {min(times):.2f} | {max(times):.2f} |\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
