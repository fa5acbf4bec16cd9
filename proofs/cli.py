"""``iabp prove``: prove every requirement for every setting in range, or show why not.

Exit status: 0 when every selected property is PROVED, 1 when any is not, 2 on bad
usage or bad input, 130 when interrupted (Ctrl-C).

Output: a line per property as it is proved, then the table, each counterexample, the
bounds proved and the verdict line (``N/M proved in T s``). ``-q`` prints the verdict
line only; ``-v`` adds, under each property's line, its lemmas and every solver query
(name, answer, seconds, purpose). ``--json`` prints instead one JSON document
(:func:`prove_document`, format ``iabp-prove``) and nothing else on stdout; errors and
warnings stay on stderr, the exit status is the same.

The artifacts are written to a scratch directory beside ``--out`` and renamed into
place when the run ends, so ``--out`` holds exactly one run: a previous artifact
directory is replaced whole, any other non-empty directory is refused without
``--force``, and an error or Ctrl-C leaves ``--out`` as it was. Every output path is
checked before the proof starts, and the ``--sign-key`` too: with it the finished
manifest is signed (``manifest.json.sig``, :mod:`iabp.proofs.signing`) before the
directory is moved into place: an error while signing leaves ``--out`` as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from iabp.keys import key_id, load_private_key, private_key_mode_problem
from iabp.proofs import monitor_theorem_cli as monitor_cli
from iabp.proofs.artifacts import fresh_artifact_dir
from iabp.proofs.ci_formats import check_output_file, write_ci_files
from iabp.proofs.counterexample import cti_text, table_text
from iabp.proofs.emit_tests import emit_test
from iabp.proofs.engine import DEFAULT_SEED
from iabp.proofs.prover import prove_all
from iabp.proofs.results import STATUS_STYLE, PropertyResult, Status
from iabp.proofs.signing import sign_manifest
from iabp.spec import assumptions as A
from iabp.spec.errors import IabpError, UsageError
from iabp.spec.iabp import iabp_spec
from iabp.spec.properties import (
    EMPTY_AFTER_R_REPORT_MS,
    INTERNAL_RESTART_EMPTY_MS,
    early_beat_helium_bound_ms,
    internal_restart_helium_bound_ms,
)
from iabp.spec.system import Property, SystemSpec
from iabp.spec.variants import variant, variants
from iabp.terminal import (
    OutputPlaceError,
    Verbosity,
    add_verbosity_arguments,
    check_output_folder,
    rich_console,
)

STYLE = STATUS_STYLE
JSON_FORMAT = "iabp-prove"  #: ``iabp prove --json``: the document's name
JSON_VERSION = 1  #: ... and its version, raised when a field changes meaning
#: the longest solver time limit per query (z3 takes milliseconds as a 32-bit number)
MAX_TIMEOUT_S = 86400.0
EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr (then exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def timeout_arg(text: str) -> float:
    """``--timeout S``: a finite number of seconds in (0, 86400]."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(v) and 0.0 < v <= MAX_TIMEOUT_S):
        raise argparse.ArgumentTypeError(f"{text!r}: the time limit must be a number of "
                                         f"seconds above 0 and at most {MAX_TIMEOUT_S:g}")
    return v


def jobs_arg(text: str) -> int:
    """``--jobs N``: a whole number of worker processes, at least 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the number of workers must be at least 1")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="iabp prove", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("proof-artifacts"),
                   help="artifact directory (SMT-LIB2 queries, results, manifest)")
    p.add_argument("--property", action="append", default=[], metavar="ID",
                   help="prove only this property (repeatable)")
    p.add_argument("--timeout-s", "--timeout", dest="timeout", type=timeout_arg, default=60.0,
                   metavar="S",
                   help="solver timeout per query, seconds (default 60)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="solver random seed")
    p.add_argument("--variant", metavar="VID",
                   help="prove a deliberately broken variant instead: a spec variant, or a "
                        "broken monitor mon-* against the monitor theorem (see --list-variants)")
    p.add_argument("--list-variants", action="store_true", help="list the broken variants")
    p.add_argument("--no-artifacts", action="store_true", help="do not write artifacts")
    p.add_argument("--sign-key", type=Path, metavar="KEYFILE",
                   help="sign manifest.json with this Ed25519 private key (iabp audit "
                        "keygen KEYFILE); auditors check it with iabp audit verify --key")
    p.add_argument("--force", action="store_true",
                   help="replace --out even if it is a non-empty directory that is not a "
                        "previous artifact directory (its whole content is deleted)")
    # -- CI outputs (proofs.ci_formats) --
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML results")
    p.add_argument("--sarif", type=Path, metavar="FILE", help="also write SARIF 2.1.0 results")
    p.add_argument("--emit-tests", type=Path, metavar="DIR",
                   help="write a pytest file per counterexample into DIR: it replays the "
                        "trace on the concrete Controller and must fail on the spec proved "
                        "(e.g. a --variant) and pass on the real spec")
    p.add_argument("--json", action="store_true",
                   help="print the results as one JSON document (format iabp-prove) and "
                        "nothing else on stdout")
    add_verbosity_arguments(p, quiet="only the verdict line (N/M proved)",
                            verbose="each property's lemmas and every solver query with "
                                    "its answer and seconds")
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
    console, err = rich_console(), rich_console(stderr=True)
    if args.list_variants:
        for v in variants():
            console.print(f"{v.id:36s} breaks {v.breaks:22s} {v.mistake}")
        for line in monitor_cli.variant_lines():
            console.print(line, markup=False)
        return 0
    if monitor_cli.is_variant(args.variant):
        return monitor_cli.run_variant(console, args.variant, args.timeout)
    try:
        spec = variant(args.variant).spec() if args.variant else iabp_spec()
        props = _select(spec, args.property)
        _check_outputs(args)
        key = _signing_key(args, err)
    except KeyError:
        err.print(f"iabp prove: unknown variant {args.variant!r} (see --list-variants)",
                  markup=False)
        return 2
    except IabpError as exc:
        err.print(f"iabp prove: error: {exc}", markup=False)
        return 2
    try:
        return _run(console, err, spec, props, args, key)
    except KeyboardInterrupt:
        err.print("iabp prove: interrupted", markup=False)
        return EXIT_INTERRUPTED


def _inside(path: Path, directory: Path) -> bool:
    a, d = os.path.abspath(path), os.path.abspath(directory)
    return a == d or a.startswith(d.rstrip(os.sep) + os.sep)


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path is usable: checked before the proof starts, not after it."""
    for option, path in (("--junit", args.junit), ("--sarif", args.sarif)):
        if path is None:
            continue
        if not args.no_artifacts and _inside(path, args.out):
            raise UsageError(f"{option} {path} is inside the artifact directory {args.out}, "
                             "which a run replaces whole (and audit verify would call it an "
                             "extra file); write it elsewhere")
        check_output_file(path, option)
    if args.emit_tests is not None:
        try:
            check_output_folder(args.emit_tests)
        except OutputPlaceError as exc:
            raise UsageError(f"--emit-tests {args.emit_tests}{exc}") from None
        if not args.no_artifacts and _inside(args.emit_tests, args.out):
            raise UsageError(f"--emit-tests {args.emit_tests} is inside the artifact directory "
                             f"{args.out}, which a run replaces whole; write them elsewhere")
    if args.junit is not None and args.sarif is not None \
            and os.path.abspath(args.junit) == os.path.abspath(args.sarif):
        raise UsageError("--junit and --sarif name the same file")


def _signing_key(args: argparse.Namespace, err: Console) -> Ed25519PrivateKey | None:
    """The ``--sign-key`` private key, read before any work (a warning when others may
    read it); None without the option."""
    if args.sign_key is None:
        return None
    if args.no_artifacts:
        raise UsageError("--sign-key signs the artifacts' manifest: it cannot be used with "
                         "--no-artifacts")
    key = load_private_key(args.sign_key)
    loose = private_key_mode_problem(args.sign_key)
    if loose:
        err.print(f"iabp prove: warning: {loose}", markup=False)
    return key


def _run(console: Console, err: Console, spec: SystemSpec, props: list[Property],
         args: argparse.Namespace, key: Ed25519PrivateKey | None) -> int:
    t0 = time.perf_counter()
    # what goes to stdout: the human text at the chosen verbosity, or (--json) nothing
    # until the one JSON document at the end
    talk = Verbosity.QUIET if args.json else args.verbosity
    said = talk >= Verbosity.NORMAL
    written: list[str] = []

    def done(prop: Property, r: PropertyResult) -> None:
        if said:
            console.print(f"  [{STYLE[r.status]}]{r.status.value:9s}[/] {prop.id:22s} "
                          f"{r.seconds:6.2f}s  {r.method}")
        if talk >= Verbosity.VERBOSE:
            console.print(_query_lines(r), markup=False, soft_wrap=True)

    def note(text: str) -> None:
        err.print(f"iabp prove: {text}", markup=False)

    # the monitor theorem assumes every property: it runs on full runs of the stated spec
    rules: list[PropertyResult] | None = [] if not args.variant and not args.property else None
    try:
        with contextlib.ExitStack() as stack:
            out_dir = None if args.no_artifacts else stack.enter_context(
                fresh_artifact_dir(args.out, force=args.force, note=note))
            if said:
                console.print(f"Proving {len(props)} properties of spec '{spec.name}' "
                              f"(sha256 {spec.sha256()[:16]}...) for every setting the "
                              "validator accepts")
            results = prove_all(spec, props, timeout_s=args.timeout, seed=args.seed,
                                out_dir=out_dir, on_done=done, monitor_rules=rules)
            if key is not None and out_dir is not None:
                sign_manifest(out_dir, key)
        # -- CI outputs (proofs.ci_formats) --
        if args.junit is not None or args.sarif is not None:
            written += [str(path) for path in write_ci_files(
                results, junit=args.junit, sarif_path=args.sarif,
                meta={"spec": spec.name, "spec_sha256": spec.sha256()},
                monitor_rules=rules or ())]
    except BrokenPipeError:  # stdout closed (``iabp prove | head``): iabp.__main__'s job
        raise
    except (IabpError, OSError) as exc:
        err.print(f"iabp prove: error: {exc}", markup=False)
        return 2
    if said:
        for path in written:
            console.print(f"wrote {path}", markup=False)
        _explain(console, spec, results)
        if rules:
            console.print("\n" + monitor_cli.HEADING, markup=False, soft_wrap=True)
            if talk >= Verbosity.VERBOSE:
                for r in rules:
                    console.print(monitor_cli.rule_line(r))
            monitor_cli.explain(console, rules)
    emitted: list[Path] = []
    if args.emit_tests is not None:
        try:
            emitted = _emit_tests(args.emit_tests, results, args.variant)
        except OSError as exc:
            err.print(f"iabp prove: error: --emit-tests {args.emit_tests}: {exc}", markup=False)
            return 2
        if said:
            console.print(f"wrote {len(emitted)} counterexample test(s) to {args.emit_tests}")
    if said:
        for prop, r in results:
            if prop.id in BOUND_TEXT and r.status is Status.PROVED:
                console.print(BOUND_TEXT[prop.id](), markup=False, soft_wrap=True)
    total = time.perf_counter() - t0
    proved = sum(r.status is Status.PROVED for _, r in results)
    rules_proved = sum(r.status is Status.PROVED for r in rules or [])
    rules_ok = rules_proved == len(rules or [])
    signer = key_id(key.public_key()) if key else None
    if args.json:
        doc = prove_document(
            spec, results, seconds=total, variant=args.variant,
            artifacts=None if args.no_artifacts else str(args.out), signed_by=signer,
            files=[*written, *(str(t) for t in emitted)])
        doc["monitor_rules"] = None if rules is None else monitor_cli.document(rules)
        doc["ok"] = doc["ok"] and rules_ok
        print(json.dumps(doc, indent=1))
    else:
        console.print(("" if talk is Verbosity.QUIET else "\n")
                      + f"{proved}/{len(results)} proved"
                      + ("" if rules is None else
                         f", monitor theorem {rules_proved}/{len(rules)} rules")
                      + f" in {total:.1f} s"
                      + ("" if args.no_artifacts else f"; artifacts in {args.out}")
                      + (f", manifest signed by {signer}" if signer else ""), markup=False)
    return 0 if proved == len(results) and rules_ok else 1


def _explain(console: Console, spec: SystemSpec,
             results: list[tuple[Property, PropertyResult]]) -> None:
    """The table, then why each property that is not PROVED is not (its counterexample)."""
    console.print(_table(results))
    for prop, r in results:
        if r.status is not Status.PROVED:
            console.print(f"\n[{STYLE[r.status]}]{prop.id} {r.status.value}[/]: {r.reason}")
        if r.counterexample is not None:
            console.print(f"Counterexample ({len(r.counterexample)} ticks from power-on, "
                          f"last ticks shown; full trace in the artifacts):")
            console.print(table_text(r.counterexample, prop, spec), markup=False,
                          soft_wrap=True)
        elif r.status is Status.UNKNOWN and r.cti is not None:
            console.print(f"Counterexample to induction of {r.cti_query} (a state the lemmas "
                          "allow and its successor; NOT shown reachable from power-on: the "
                          "property may hold and the lemmas be too weak):")
            console.print(cti_text(r.cti, r.cti_query, prop, spec), markup=False,
                          soft_wrap=True)


def _query_lines(r: PropertyResult) -> str:
    """``-v``: the lemmas a proof used and each solver query it rests on, one a line."""
    lines = [f"      lemmas: {', '.join(r.lemmas) or 'none'}"]
    lines += [f"      {q.answer.value:7s} {q.seconds:7.3f}s  {q.name}  ({q.purpose}; "
              f"expected {q.expected.value})" for q in r.queries]
    return "\n".join(lines)


#: What ``prove --json`` says of a counterexample to induction (it is not a trace).
CTI_NOTE = ("a counterexample to induction: a state the lemmas allow and its successor, "
            "NOT shown reachable from power-on (the property may hold and the lemmas be "
            "too weak)")


def prove_document(spec: SystemSpec, results: list[tuple[Property, PropertyResult]], *,
                   seconds: float, variant: str | None = None, artifacts: str | None = None,
                   signed_by: str | None = None, files: list[str] | None = None
                   ) -> dict[str, Any]:
    """The results as ``iabp prove --json`` prints them (format :data:`JSON_FORMAT`,
    ``version`` :data:`JSON_VERSION`): the spec's hash, each property's verdict with its
    requirements and hazards, how it was proved, and what is known of a counterexample
    (the trace's length and the tick it breaks the property at; the full trace is in the
    artifacts), the totals, where the artifacts are, and the other files written."""
    props = []
    for prop, r in results:
        cex = None if r.counterexample is None else {
            "trace_ticks": len(r.counterexample),
            "violated_at_tick": r.counterexample[-1].get("tick", len(r.counterexample) - 1)
            if r.counterexample else None}
        cti = None if r.cti is None or r.counterexample is not None else {
            "query": r.cti_query, "note": CTI_NOTE}
        bound = BOUND_TEXT[prop.id]().strip() if prop.id in BOUND_TEXT \
            and r.status is Status.PROVED else None
        props.append({"id": prop.id, "title": r.title, "requirements": list(prop.requirements),
                      "hazards": list(prop.hazards), "status": r.status.value,
                      "method": r.method, "k": r.k, "seconds": round(r.seconds, 3),
                      "reason": r.reason or None, "lemmas": r.lemmas,
                      "counterexample": cex, "induction_counterexample": cti,
                      "bound": bound})
    counts = {s.value.lower(): sum(r.status is s for _, r in results) for s in Status}
    return {"format": JSON_FORMAT, "version": JSON_VERSION, "spec": spec.name,
            "spec_sha256": spec.sha256(), "variant": variant,
            "ok": counts["proved"] == len(results), "properties": props,
            "totals": {"properties": len(results), **counts, "seconds": round(seconds, 3)},
            "artifacts": artifacts, "manifest_signed_by": signed_by, "files": files or []}


def _emit_tests(out: Path, results: list[tuple[Property, PropertyResult]],
                variant_id: str | None) -> list[Path]:
    """One replay test per counterexample (``iabp.proofs.emit_tests``, replayed by ``iabp.sim.cex_replay``)."""
    out.mkdir(parents=True, exist_ok=True)
    return [emit_test(out, prop.id, variant_id, r.counterexample, r.method)[0]
            for prop, r in results if r.counterexample is not None]


def _bands_text(rows: list[tuple[int, int, int]]) -> str:
    return "\n  ".join(f"{lo}-{hi} ms ({round(60000 / hi)}-{round(60000 / lo)} bpm): {ms} ms"
                       for lo, hi, ms in rows)


def early_beat_bound_text() -> str:
    """The bound P-EARLY-BEAT-BOUND proves, per rate band, as the prover prints it."""
    return (f"\n{EARLY_BEAT_PROPERTY} proved: on a beat no rhythm predicted (premature, AF), "
            "helium in ejection lasts at most (by the R-R that ends at that beat):\n  "
            + _bands_text(early_beat_helium_bound_ms())
            + f"\n  (R-wave decision <= {A.R_DETECT_DELAY_MAX_MS} ms after QRS onset, + "
            f"{EMPTY_AFTER_R_REPORT_MS} ms to empty (deflation on the QRS suspicion "
            f"{A.R_SUSPECT_LEAD_MS} ms before the decision, then the gas), - the band's "
            "shortest PEP; on the rhythms ASM-RR-STEP covers P-NO-GAS-IN-EJECTION proves "
            "zero)")


def internal_restart_bound_text() -> str:
    """The bound P-INTERNAL-RESTART proves, per rate band, as the prover prints it."""
    return (f"\n{INTERNAL_RESTART_PROPERTY} proved: on the first beat after asystole during "
            "internal pumping, helium in ejection lasts at most:\n  "
            + _bands_text(internal_restart_helium_bound_ms())
            + f"\n  (activity report <= {A.ACTIVITY_DELAY_MAX_MS} ms after QRS onset, + "
            f"{INTERNAL_RESTART_EMPTY_MS - A.ACTIVITY_DELAY_MAX_MS} ms to empty, - the band's "
            "shortest PEP)")


#: The properties whose proofs carry a stated bound instead of zero, and how it is printed.
EARLY_BEAT_PROPERTY = "P-EARLY-BEAT-BOUND"
INTERNAL_RESTART_PROPERTY = "P-INTERNAL-RESTART"
BOUND_TEXT: dict[str, Callable[[], str]] = {
    EARLY_BEAT_PROPERTY: early_beat_bound_text,
    INTERNAL_RESTART_PROPERTY: internal_restart_bound_text,
}


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
