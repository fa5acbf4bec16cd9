"""``iabp report`` and ``iabp audit``: the evidence report, and checking evidence we did not make.

    iabp report --out DIR [--artifacts ART] [--variant VID] [--property ID ...]
                [--no-recheck] [--no-test-collect] [--timeout S] [--jobs N]
                [--diagram auto|graphviz|builtin]
    iabp audit verify DIR [--regenerate] [--variant VID] [--timeout S] [--jobs N]

``iabp report`` proves the spec itself (artifacts in DIR/artifacts) unless ART is given,
re-solves every query with z3 and cvc5 (unless --no-recheck), and writes
DIR/report.html (self-contained) and DIR/report.md. ``iabp audit verify`` prints one
PASS/FAIL line per artifact (see :mod:`iabp.proofs.audit`).

Exit status: 0 everything holds, 1 a property is not proved or a check failed, 2 bad
usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iabp.proofs.audit import AuditLine, verify
from iabp.proofs.prover import prove_all
from iabp.proofs.recheck import DEFAULT_TIMEOUT_S, RecheckReport, recheck
from iabp.proofs.report.build import build_report, load_results
from iabp.proofs.traceability.matrix import build_matrix, summaries_from_json
from iabp.spec.errors import IabpError, UsageError
from iabp.spec.iabp import iabp_spec
from iabp.spec.system import Property, SystemSpec
from iabp.spec.variants import variant


def _spec_for(vid: str | None) -> SystemSpec:
    if vid is None:
        return iabp_spec()
    try:
        return variant(vid).spec()
    except KeyError:
        raise UsageError(f"unknown variant {vid!r} (see 'iabp prove --list-variants')") from None


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", metavar="VID", help="the spec is this broken variant")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help="time limit per query and solver, seconds")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="re-check with N worker processes")


def report_parser() -> argparse.ArgumentParser:
    """The argument parser of ``iabp report``."""
    p = argparse.ArgumentParser(prog="iabp report", description="Write the evidence report "
                                "(HTML + Markdown) with the traceability matrix.")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--artifacts", type=Path, metavar="ART",
                   help="report on this artifact directory instead of proving again")
    p.add_argument("--property", action="append", default=[], metavar="ID",
                   help="prove only this property (repeatable; without --artifacts)")
    p.add_argument("--no-recheck", action="store_true",
                   help="do not re-solve the queries with z3 and cvc5")
    p.add_argument("--diagram", choices=("auto", "graphviz", "builtin"), default="auto",
                   help="who draws the mode diagram")
    p.add_argument("--no-test-collect", action="store_true",
                   help="link tests by a static scan only (skip 'pytest --collect-only')")
    _common(p)
    return p


def _props(spec: SystemSpec, ids: list[str]) -> list[Property]:
    known = {p.id for p in spec.properties}
    bad = [i for i in ids if i not in known]
    if bad:
        raise UsageError(f"unknown property {', '.join(bad)}")
    return [spec.property(i) for i in ids] if ids else list(spec.properties)


def report_main(argv: list[str]) -> int:
    """``iabp report``: prove (or read artifacts), re-check, and write the report."""
    args = _parse(report_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        if args.timeout <= 0 or args.jobs < 1:
            raise UsageError("--timeout and --jobs must be positive")
        spec = _spec_for(args.variant)
        art = args.artifacts
        if art is None:
            art = args.out / "artifacts"
            print(f"proving {spec.name} into {art} ...", flush=True)
            prove_all(spec, _props(spec, args.property), timeout_s=args.timeout, out_dir=art)
        elif not (art / "results.json").is_file():
            raise UsageError(f"{art} has no results.json: not an artifact directory")
        rc: RecheckReport | None = None
        if not args.no_recheck:
            print("re-solving every query with z3 and cvc5 ...", flush=True)
            rc = recheck(art, timeout_s=args.timeout, jobs=args.jobs)
        results = load_results(art)
        matrix = build_matrix(spec, summaries_from_json(results),
                              collect=not args.no_test_collect)
        report = build_report(art, spec, args.out, recheck=rc, matrix=matrix,
                              diagram=args.diagram, variant=args.variant)
        html_path, md_path = report.write(args.out)
    except (IabpError, OSError, ValueError) as exc:
        print(f"iabp report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {html_path} and {md_path}")
    proved = all(r["status"] == "PROVED" for r in results.get("results", []))
    same_spec = results.get("spec_sha256") == spec.sha256()
    return 0 if proved and same_spec and (rc is None or rc.ok) else 1


def audit_parser() -> argparse.ArgumentParser:
    """The argument parser of ``iabp audit``."""
    p = argparse.ArgumentParser(prog="iabp audit", description="Re-check proof artifacts "
                                "without trusting the prover.")
    sub = p.add_subparsers(dest="action", required=True)
    v = sub.add_parser("verify", help="check hashes, the spec, and re-solve every query")
    v.add_argument("dir", type=Path, help="artifact directory (from iabp prove --out)")
    v.add_argument("--regenerate", action="store_true",
                   help="also regenerate every query from the current spec and compare bytes")
    _common(v)
    return p


def audit_main(argv: list[str]) -> int:
    """``iabp audit verify DIR``: 0 when every artifact holds, 1 otherwise, 2 bad usage."""
    args = _parse(audit_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        if args.timeout <= 0 or args.jobs < 1:
            raise UsageError("--timeout and --jobs must be positive")
        if not args.dir.is_dir():
            raise UsageError(f"{args.dir} is not a directory")
        spec = _spec_for(args.variant)
    except IabpError as exc:
        print(f"iabp audit: {exc}", file=sys.stderr)
        return 2

    def show(line: AuditLine) -> None:
        print(line.text(), flush=True)

    report = verify(args.dir, spec, timeout_s=args.timeout, jobs=args.jobs,
                    regenerate=args.regenerate, on_line=show)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(report_main(sys.argv[1:]))
