"""``iabp prove``: prove every requirement for every setting in range, or show why not.

Exit status: 0 when every selected property is PROVED, 1 when any is not, 2 on bad
usage or bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from iabp.proofs.counterexample import table_text
from iabp.proofs.engine import DEFAULT_SEED
from iabp.proofs.prover import prove_all
from iabp.proofs.results import PropertyResult, Status
from iabp.spec.errors import IabpError, UsageError
from iabp.spec.iabp import iabp_spec
from iabp.spec.system import Property, SystemSpec
from iabp.spec.variants import variant, variants

STYLE = {Status.PROVED: "green", Status.VIOLATED: "bold red", Status.UNKNOWN: "yellow",
         Status.VACUOUS: "magenta"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iabp prove", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("proof-artifacts"),
                   help="artifact directory (SMT-LIB2 queries, results, manifest)")
    p.add_argument("--property", action="append", default=[], metavar="ID",
                   help="prove only this property (repeatable)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="solver timeout per query, seconds")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="solver random seed")
    p.add_argument("--variant", metavar="VID",
                   help="prove a deliberately broken variant instead (see --list-variants)")
    p.add_argument("--list-variants", action="store_true", help="list the broken variants")
    p.add_argument("--no-artifacts", action="store_true", help="do not write artifacts")
    # -- CI outputs (proofs.ci_formats) --
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML results")
    p.add_argument("--sarif", type=Path, metavar="FILE", help="also write SARIF 2.1.0 results")
    return p


def _select(spec: SystemSpec, ids: list[str]) -> list[Property]:
    if not ids:
        return list(spec.properties)
    known = {p.id for p in spec.properties}
    bad = [i for i in ids if i not in known]
    if bad:
        raise UsageError(f"unknown property {', '.join(bad)}; known: {', '.join(sorted(known))}")
    return [spec.property(i) for i in ids]


def main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    console = Console(stderr=False, highlight=False, width=max(140, Console().width))
    if args.list_variants:
        for v in variants():
            console.print(f"{v.id:36s} breaks {v.breaks:22s} {v.mistake}")
        return 0
    try:
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        spec = variant(args.variant).spec() if args.variant else iabp_spec()
        props = _select(spec, args.property)
    except KeyError:
        console.print(f"[red]unknown variant {args.variant!r}[/red] (see --list-variants)")
        return 2
    except IabpError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    return _run(console, spec, props, args)


def _run(console: Console, spec: SystemSpec, props: list[Property],
         args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    console.print(f"Proving {len(props)} properties of spec '{spec.name}' "
                  f"(sha256 {spec.sha256()[:16]}...) for every setting the validator accepts")

    def done(prop: Property, r: PropertyResult) -> None:
        console.print(f"  [{STYLE[r.status]}]{r.status.value:9s}[/] {prop.id:22s} "
                      f"{r.seconds:6.2f}s  {r.method}")

    try:
        results = prove_all(spec, props, timeout_s=args.timeout, seed=args.seed,
                            out_dir=None if args.no_artifacts else args.out, on_done=done)
    except IabpError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    # -- CI outputs (proofs.ci_formats) --
    if args.junit is not None or args.sarif is not None:
        from iabp.proofs.ci_formats import write_ci_files

        for path in write_ci_files(results, junit=args.junit, sarif_path=args.sarif,
                                   meta={"spec": spec.name, "spec_sha256": spec.sha256()}):
            console.print(f"wrote {path}")
    console.print(_table(results))
    for prop, r in results:
        if r.status is not Status.PROVED:
            console.print(f"\n[{STYLE[r.status]}]{prop.id} {r.status.value}[/]: {r.reason}")
        if r.counterexample is not None:
            console.print(f"Counterexample ({len(r.counterexample)} ticks from power-on, "
                          f"last ticks shown; full trace in the artifacts):")
            console.print(table_text(r.counterexample, prop, spec), markup=False,
                          soft_wrap=True)
    total = time.perf_counter() - t0
    proved = sum(r.status is Status.PROVED for _, r in results)
    console.print(f"\n{proved}/{len(results)} proved in {total:.1f} s"
                  + ("" if args.no_artifacts else f"; artifacts in {args.out}"))
    return 0 if proved == len(results) else 1


def _table(results: list[tuple[Property, PropertyResult]]) -> Table:
    t = Table(title="IABP safety properties")
    for col in ("property", "requirement", "hazard", "status", "method", "seconds"):
        t.add_column(col)
    for prop, r in results:
        t.add_row(prop.id, ", ".join(prop.requirements), ", ".join(prop.hazards),
                  f"[{STYLE[r.status]}]{r.status.value}[/]", r.method, f"{r.seconds:.2f}")
    return t


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
