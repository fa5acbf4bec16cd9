"""``iabp report`` and ``iabp audit``: the evidence report, and checking evidence we did not make.

    iabp report --out DIR [--artifacts ART] [--variant VID] [--property ID ...]
                [--no-recheck] [--no-test-collect] [--timeout S] [--jobs N]
                [--diagram auto|graphviz|builtin] [--test-results FILE.xml]
    iabp audit verify DIR [--key PUBKEY] [--json] [--regenerate] [--variant VID]
                      [--timeout S] [--jobs N] [-q | -v]
    iabp audit keygen KEYFILE [--public FILE]

``iabp report`` proves the spec itself (artifacts in DIR/artifacts) unless ART is given,
re-solves every query with z3 and cvc5 (unless --no-recheck), and writes
DIR/report.html (self-contained) and DIR/report.md; with ``--test-results`` (the JUnit
file of ``python -m pytest --junitxml=FILE``) each test the matrix links shows whether it
passed. Each stage goes to stderr: a progress bar on a terminal, one line otherwise
(:mod:`iabp.proofs.report.progress`). ``iabp audit verify`` prints one
PASS/FAIL line per artifact (see :mod:`iabp.proofs.audit`); with ``--key`` the first
checks the manifest's Ed25519 signature (:mod:`iabp.proofs.signing`), without it one
line says the manifest is not authenticated; ``--json`` prints the same lines and the
verdict as one JSON document instead. ``-q`` prints only the FAIL lines and the verdict
line, ``-v`` also the solvers' versions and time; while the queries are re-solved a
progress bar shows on stderr when it is a terminal (not with ``-q`` or ``--json``).
``iabp audit keygen`` makes the key pair ``iabp prove --sign-key`` signs with (the same
files as ``iabp log keygen``).

Exit status: 0 everything holds (keygen: the key pair was written), 1 a property is not
proved or a check failed, 2 bad usage (an unreadable key, a key file that exists), 130
interrupted (Ctrl-C). Relative and absolute paths work alike. The report's
files are written beside their final names and renamed into place, and the artifacts
``iabp report`` proves go through :func:`iabp.proofs.artifacts.fresh_artifact_dir`, so
an error or Ctrl-C leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from iabp.keys import add_keygen_arguments, keygen_command, load_public_key
from iabp.proofs.artifacts import fresh_artifact_dir
from iabp.proofs.audit import AuditLine, verify
from iabp.proofs.ci_formats import check_output_file
from iabp.proofs.cli import EXIT_INTERRUPTED, OneLineParser, jobs_arg, timeout_arg
from iabp.proofs.margins_report import DOC_FORMAT
from iabp.proofs.prover import prove_all
from iabp.proofs.recheck import DEFAULT_TIMEOUT_S, RecheckReport, query_files, recheck
from iabp.proofs.report.build import Report, build_report, load_results
from iabp.proofs.report.junit import JunitResults, load_junit
from iabp.proofs.report.progress import StageProgress
from iabp.proofs.signing import SIGNATURE
from iabp.proofs.traceability.matrix import build_matrix, summaries_from_json
from iabp.spec.errors import IabpError, UsageError
from iabp.spec.iabp import iabp_spec
from iabp.spec.system import Property, SystemSpec
from iabp.spec.variants import variant
from iabp.terminal import ProgressBar, Verbosity, add_verbosity_arguments


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
    p.add_argument("--timeout-s", "--timeout", dest="timeout", type=timeout_arg,
                   default=DEFAULT_TIMEOUT_S, metavar="S",
                   help="time limit per query and solver, seconds")
    p.add_argument("--jobs", type=jobs_arg, default=1, metavar="N",
                   help="re-check with N worker processes")


def report_parser() -> argparse.ArgumentParser:
    """The argument parser of ``iabp report``."""
    p = OneLineParser(prog="iabp report", description="Write the evidence report "
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
    p.add_argument("--margins", type=Path, metavar="FILE",
                   help="show this 'iabp margins --json' run as the report's margins section")
    p.add_argument("--test-results", type=Path, metavar="FILE.xml",
                   help="the JUnit XML of a test run (python -m pytest --junitxml=FILE.xml): "
                        "show each linked test's pass/fail")
    _common(p)
    return p


def load_margins(path: Path) -> dict[str, Any]:
    """The JSON document of ``iabp margins --json``, or a UsageError saying what is wrong."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--margins {path}: cannot read a margins document ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != DOC_FORMAT:
        raise UsageError(f"--margins {path}: not written by 'iabp margins --json' "
                         f"(format {DOC_FORMAT} expected)")
    return doc


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
        return _report(args)
    except KeyboardInterrupt:
        print("iabp report: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _prove(spec: SystemSpec, props: list[Property], art: Path, timeout_s: float,
           stages: StageProgress) -> None:
    """Prove ``props`` into ``art`` (replaced whole, only once every proof is written)."""
    def note(text: str) -> None:
        print(f"iabp report: {text}", file=sys.stderr)

    what = f"{len(props)} propert{'y' if len(props) == 1 else 'ies'} of {spec.name}"
    with (stages.stage(f"proving {what} into {art}", len(props)) as proved,
          fresh_artifact_dir(art, note=note) as scratch):
        prove_all(spec, props, timeout_s=timeout_s, out_dir=scratch,
                  on_done=lambda *_: proved())


def _build_and_write(args: argparse.Namespace, spec: SystemSpec, art: Path,
                     rc: RecheckReport | None, margins: dict[str, Any] | None,
                     tests: JunitResults | None, stages: StageProgress,
                     ) -> tuple[Path, Path, dict[str, Any]]:
    """Link the tests, build the report (figures) and write it: the last three stages."""
    results = load_results(art)
    with stages.stage("linking tests to IDs" + ("" if args.no_test_collect else
                                                " (pytest --collect-only)")):
        matrix = build_matrix(spec, summaries_from_json(results),
                              collect=not args.no_test_collect)
    with stages.stage("building the report and drawing its figures"):
        report = build_report(art, spec, args.out, recheck=rc, matrix=matrix,
                              diagram=args.diagram, variant=args.variant, margins=margins,
                              test_results=tests)
    with stages.stage(f"writing {args.out / 'report.html'} and report.md"):
        html_path, md_path = _write_whole(report, args.out)
    return html_path, md_path, results


def _report(args: argparse.Namespace) -> int:
    stages = StageProgress("iabp report")
    try:
        spec = _spec_for(args.variant)
        props = _props(spec, args.property)
        if args.out.exists() and not args.out.is_dir():
            raise UsageError(f"--out {args.out} exists and is not a directory")
        check_output_file(args.out / "report.html", "--out")
        margins = load_margins(args.margins) if args.margins is not None else None
        tests = load_junit(args.test_results) if args.test_results is not None else None
        art = args.artifacts
        if art is None:
            art = args.out / "artifacts"
            _prove(spec, props, art, args.timeout, stages)
        elif args.property:
            raise UsageError("--property selects what to prove; it cannot be used with "
                             "--artifacts")
        elif not (art / "results.json").is_file():
            raise UsageError(f"{art} has no results.json: not an artifact directory")
        rc: RecheckReport | None = None
        if not args.no_recheck:
            n = len(query_files(art))
            with stages.stage(f"re-solving {n} queries with z3 and cvc5", n) as solved:
                rc = recheck(art, timeout_s=args.timeout, jobs=args.jobs,
                             on_check=lambda _: solved())
        html_path, md_path, results = _build_and_write(args, spec, art, rc, margins, tests,
                                                       stages)
    except BrokenPipeError:  # stdout closed (``iabp report | head``): iabp.__main__'s job
        raise
    except (IabpError, OSError, ValueError) as exc:
        print(f"iabp report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {html_path} and {md_path}")
    proved = all(r["status"] == "PROVED" for r in results.get("results", []))
    same_spec = results.get("spec_sha256") == spec.sha256()
    return 0 if proved and same_spec and (rc is None or rc.ok) else 1


def _write_whole(report: Report, out: Path) -> tuple[Path, Path]:
    """Write the report in a scratch directory inside ``out``, then rename each part into
    place (``img/`` replaced whole), so an error or Ctrl-C leaves no half-written file."""
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / f".report.partial-{secrets.token_hex(4)}"
    try:
        html, md = report.write(scratch)
        if (scratch / "img").is_dir():
            old = out / f".img.old-{secrets.token_hex(4)}"
            if (out / "img").exists():
                (out / "img").rename(old)
            (scratch / "img").rename(out / "img")
            shutil.rmtree(old, ignore_errors=True)
        for part in (html, md):
            os.replace(part, out / part.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out / html.name, out / md.name


def audit_parser() -> argparse.ArgumentParser:
    """The argument parser of ``iabp audit``."""
    p = OneLineParser(prog="iabp audit", description="Re-check proof artifacts "
                                "without trusting the prover.")
    sub = p.add_subparsers(dest="action", required=True)
    v = sub.add_parser("verify", help="check hashes, the spec, and re-solve every query")
    v.add_argument("dir", type=Path, help="artifact directory (from iabp prove --out)")
    v.add_argument("--key", type=Path, metavar="PUBKEY",
                   help="the signer's public key (PEM, the auditor's copy): the manifest "
                        "must carry a valid signature by it (iabp prove --sign-key)")
    v.add_argument("--json", action="store_true",
                   help="print the lines and the verdict as one JSON document")
    v.add_argument("--regenerate", action="store_true",
                   help="also regenerate every query from the current spec and compare bytes")
    add_verbosity_arguments(v, quiet="only the FAIL lines and the verdict line",
                            verbose="also the solvers' versions and their total time")
    _common(v)
    kg = sub.add_parser("keygen", help="make an Ed25519 key pair for signing proof manifests",
                        description="Write a new Ed25519 private key to KEYFILE (mode 0600; "
                        "for iabp prove --sign-key KEYFILE) and its public key to KEYFILE.pub "
                        "(for auditors: iabp audit verify DIR --key KEYFILE.pub).")
    add_keygen_arguments(kg)
    return p


def audit_main(argv: list[str]) -> int:
    """``iabp audit verify DIR``: 0 when every artifact holds, 1 otherwise, 2 bad usage;
    ``iabp audit keygen KEYFILE``: 0 written, 2 not."""
    args = _parse(audit_parser(), argv)
    if isinstance(args, int):
        return args
    if args.action == "keygen":
        return keygen_command("iabp audit keygen", args.keyfile, args.public,
                              private_use="for iabp prove --sign-key; keep it where the "
                              "proofs run", public_use="for iabp audit verify --key")
    try:
        if not args.dir.is_dir():
            raise UsageError(f"{args.dir} is not a directory")
        spec = _spec_for(args.variant)
        public = load_public_key(args.key) if args.key is not None else None
    except IabpError as exc:
        print(f"iabp audit: {exc}", file=sys.stderr)
        return 2

    talk = args.verbosity

    def show(line: AuditLine) -> None:
        if talk >= Verbosity.NORMAL or not line.ok:
            print(line.text(), flush=True)

    bar = ProgressBar("iabp audit: re-solving with z3 and cvc5",
                      shown=talk >= Verbosity.NORMAL and not args.json)

    def solved(done: int, total: int) -> None:
        bar.update(done, total)
        if done == total:
            bar.close()  # the lines that follow are printed below no bar

    try:
        with bar:
            report = verify(args.dir, spec, timeout_s=args.timeout, jobs=args.jobs,
                            regenerate=args.regenerate, public_key=public,
                            on_line=None if args.json else show, on_solved=solved)
    except KeyboardInterrupt:
        print("iabp audit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
        return 0 if report.ok else 1
    if report.unchecked is not None and talk >= Verbosity.NORMAL:
        print(f"{'NOT CHECKED':14s} {SIGNATURE}  {report.unchecked}")
    if report.recheck is not None and talk >= Verbosity.VERBOSE:
        rc = report.recheck
        print(f"solvers: {rc.z3_version} ({rc.z3_how}), {rc.cvc5_version}; {len(rc.checks)} "
              f"queries in {rc.seconds:.1f} s (z3 {rc.total('z3'):.1f} s, cvc5 "
              f"{rc.total('cvc5'):.1f} s of solver time), limit {rc.timeout_s:g} s each")
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(report_main(sys.argv[1:]))
