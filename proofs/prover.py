"""Prove a list of properties of a spec and (optionally) write the artifacts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from iabp.proofs.artifacts import ArtifactWriter
from iabp.proofs.engine import DEFAULT_SEED, ProofContext, Query, prove_property
from iabp.proofs.results import PropertyResult
from iabp.proofs.search import CounterexampleFinder, WitnessFinder
from iabp.spec.system import Property, SystemSpec


def prove_all(spec: SystemSpec, props: Sequence[Property], *, timeout_s: float = 60.0,
              seed: int = DEFAULT_SEED, out_dir: Path | None = None,
              on_start: Callable[[Property], None] | None = None,
              on_done: Callable[[Property, PropertyResult], None] | None = None,
              witnesses: bool = True) -> list[tuple[Property, PropertyResult]]:
    """Prove each property in turn; write artifacts into ``out_dir`` when given."""
    t0 = time.perf_counter()
    ctx = ProofContext(spec, timeout_s=timeout_s, seed=seed)
    finder = CounterexampleFinder(ctx)
    witness = WitnessFinder(spec) if witnesses else None
    writer = ArtifactWriter(out_dir, spec, seed, timeout_s) if out_dir is not None else None
    results: list[tuple[Property, PropertyResult]] = []
    for prop in props:
        if on_start is not None:
            on_start(prop)
        kept: list[Query] = []
        result = prove_property(ctx, prop, find_trace=finder, find_witness=witness, keep=kept)
        if witness is not None and prop.id in witness.found:
            w = witness.found[prop.id]
            result.reason += f"; witness: scenario '{w.scenario}' reaches the premise at " \
                             f"tick {w.tick}"
        if writer is not None:
            writer.write_property(prop, result, kept)
        results.append((prop, result))
        if on_done is not None:
            on_done(prop, result)
    if writer is not None:
        writer.finish(results, time.perf_counter() - t0)
    return results
