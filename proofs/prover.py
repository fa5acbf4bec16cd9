"""Prove a list of properties of a spec and (optionally) write the artifacts."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from iabp.proofs.artifacts import ArtifactWriter
from iabp.proofs.engine import DEFAULT_SEED, ProofContext, Query, prove_property
from iabp.proofs.monitor_theorem import prove_monitor_rules
from iabp.proofs.results import PropertyResult, Status
from iabp.proofs.search import CounterexampleFinder, WitnessFinder
from iabp.spec.iabp import iabp_spec
from iabp.spec.system import Property, SystemSpec
from iabp.spec.variants import variant

T = TypeVar("T")


def prove_all(spec: SystemSpec, props: Sequence[Property], *, timeout_s: float = 60.0,
              seed: int = DEFAULT_SEED, out_dir: Path | None = None,
              on_start: Callable[[Property], None] | None = None,
              on_done: Callable[[Property, PropertyResult], None] | None = None,
              witnesses: bool = True,
              monitor_rules: list[PropertyResult] | None = None
              ) -> list[tuple[Property, PropertyResult]]:
    """Prove each property in turn; write artifacts into ``out_dir`` when given.

    With a ``monitor_rules`` list, then prove the monitor theorem for every runtime rule
    (:mod:`iabp.proofs.monitor_theorem`, assuming the properties this run PROVED) and
    append its results there (and to the artifacts)."""
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
    if monitor_rules is not None:
        proved = frozenset(p.id for p, r in results if r.status is Status.PROVED)
        rule_queries: dict[str, list[Query]] = {}
        monitor_rules.extend(prove_monitor_rules(ctx, proved, rule_queries))
        if writer is not None:
            for r in monitor_rules:
                writer.write_monitor_rule(r, rule_queries.get(r.property_id, []))
    if writer is not None:
        writer.finish(results, time.perf_counter() - t0, monitor_rules or ())
    return results


def prove_variant(vid: str, timeout_s: float = 60.0) -> PropertyResult:
    """Prove the property a broken variant targets, on that variant, with the counterexample
    search (what ``iabp prove --variant VID --property P`` does, without artifacts)."""
    v = variant(vid)
    spec = v.spec()
    ctx = ProofContext(spec, timeout_s=timeout_s)
    return prove_property(ctx, spec.property(v.breaks), find_trace=CounterexampleFinder(ctx))


def prove_without(pid: str, dropped: Sequence[str], timeout_s: float = 60.0,
                  corners: bool = True, search: bool = True) -> PropertyResult:
    """Prove one property of the real spec with the environment constraints of the
    ``dropped`` assumptions removed (does its proof need them?), with the counterexample
    search when ``search`` (``corners``: also the corner scenario library)."""
    spec = iabp_spec()
    for asm in dropped:
        spec = spec.replace_env(asm, [])
    ctx = ProofContext(spec, timeout_s=timeout_s)
    finder = CounterexampleFinder(ctx, corners=corners) if search else None
    return prove_property(ctx, spec.property(pid), find_trace=finder)


def side_by_side(fn: Callable[..., T], calls: Sequence[tuple[Any, ...]],
                 jobs: int | None = None) -> list[T]:
    """``fn(*args)`` for each of ``calls`` on ``jobs`` processes (None: one per CPU), in
    order; for independent proofs (``fn`` must be a module-level function)."""
    workers = max(1, min(jobs or os.cpu_count() or 1, len(calls)))
    if workers == 1:
        return [fn(*args) for args in calls]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(fn, *args) for args in calls]
        return [f.result() for f in futures]


def prove_variants(vids: Sequence[str], timeout_s: float = 60.0,
                   jobs: int | None = None) -> dict[str, PropertyResult]:
    """:func:`prove_variant` for each of ``vids``, side by side (:func:`side_by_side`)."""
    results = side_by_side(prove_variant, [(vid, timeout_s) for vid in vids], jobs)
    return dict(zip(vids, results, strict=True))
