"""Mutation campaign over ``spec/`` (issue 14, Deliver 5): does the prover catch the mistakes?

    python benchmarks/bench_mutations.py                 # the whole catalogue, one process
    python benchmarks/bench_mutations.py --only M14-RR-PLUS-1 --only M-IDLE-ALARM-GT
    python benchmarks/bench_mutations.py --list          # the catalogue, nothing run
    python benchmarks/bench_mutations.py --render-only   # re-render the table from the JSON

Every operator of :mod:`benchmarks.mutation_ops` is one mistake in the spec's source. For
each, the campaign copies a snapshot of the package (``git archive HEAD`` by default, so
a colleague's uncommitted edits never leak into a run; ``--base worktree`` copies the
working tree) to ``<workdir>/<id>/iabp``, applies the edit there, and runs a worker
subprocess with ``PYTHONPATH=<workdir>/<id>`` in which ``import iabp`` is that copy (the
editable install's import hook is removed and every loaded ``iabp`` module is checked to
come from the copy). The worker builds the spec and proves every property with
``prove_all`` (induction, and the prover's own counterexample search from power-on).

Outcome of a mutant:
- ``KILLED``: some property PROVED on the unmutated snapshot is VIOLATED, with a trace
  from power-on: the mistake is caught with evidence a reviewer can replay.
- ``KILLED-UNKNOWN-ONLY``: no trace, but some property is no longer PROVED (UNKNOWN,
  VACUOUS): the proof notices, but shows no scenario. Not counted as a kill.
- ``EQUIVALENT``: everything PROVED, and Z3 shows that from every state the unmutated
  spec's lemmas allow (its proved over-approximation of the reachable states), under every
  environment assumption, the mutant's step gives the same next state as the original's,
  and power-on is the same: the mutant is the same machine. Excluded from the score.
- ``SURVIVED-DIFFERENT``: everything PROVED, and the mutant can behave differently; the
  worker runs the scenario library on both specs and reports what differs at the bedside.
- ``SURVIVED-UNDECIDED``: everything PROVED, equivalence check inconclusive.
- ``STILLBORN``: the mutant spec does not build (exception, ``checked()`` fails).
  Excluded from the score.
- ``TIMEOUT``: the worker ran out of time (``--timeout``); a trace found before that still
  makes it KILLED.

Score = KILLED / (all - STILLBORN - EQUIVALENT). Results: ``benchmarks/results/mutations.md``
and ``mutations.json`` (``--only`` merges into them).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import pickle
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.mutation_ops import (  # noqa: E402
    OPERATOR_BY_ID,
    OPERATORS,
    AnchorError,
    MutationOp,
    apply_op,
    mutate_tree,
)

#: The package folders a worker needs (the repository root is the ``iabp`` package).
PACKAGE_PARTS: tuple[str, ...] = ("spec", "proofs", "controller", "monitor", "sim", "__main__.py")
RESULTS = REPO / "benchmarks" / "results"
KILLED, UNKNOWN_ONLY, EQUIVALENT = "KILLED", "KILLED-UNKNOWN-ONLY", "EQUIVALENT"
DIFFERENT, UNDECIDED, STILLBORN, TIMEOUT = ("SURVIVED-DIFFERENT", "SURVIVED-UNDECIDED",
                                            "STILLBORN", "TIMEOUT")
OUTCOMES: tuple[str, ...] = (KILLED, UNKNOWN_ONLY, TIMEOUT, DIFFERENT, UNDECIDED, EQUIVALENT,
                             STILLBORN)


# ======================================================================================
# worker: runs inside the mutant's copy (PYTHONPATH=<workdir>/<id>)
# ======================================================================================

def _isolate(root: Path) -> Any:
    """Import ``iabp`` from the copy at ``root`` only: the editable install's finder, path
    hook and path entry (which would fall back to the real repository) are removed first."""
    def editable(x: Any) -> bool:
        return "__editable__" in str(getattr(x, "__module__", "")) or "__editable__" in str(x)

    sys.meta_path[:] = [f for f in sys.meta_path if not editable(f)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if not editable(h)]
    sys.path[:] = [p for p in sys.path if "__editable__" not in p]
    sys.path_importer_cache.clear()
    import iabp

    want = str(root / "iabp")
    got = [str(p) for p in iabp.__path__]
    if got != [want]:
        raise RuntimeError(f"iabp resolves to {got}, not only the mutant copy {want}")
    return iabp


def _assert_isolated(root: Path) -> list[str]:
    """Every loaded ``iabp`` module comes from the copy at ``root``; returns their files."""
    files = sorted({str(getattr(m, "__file__", "") or "") for n, m in list(sys.modules.items())
                    if n == "iabp" or n.startswith("iabp.")} - {""})
    outside = [f for f in files if not f.startswith(str(root) + os.sep)]
    if outside:
        raise RuntimeError(f"modules imported from outside the mutant copy: {outside[:5]}")
    return files


def _jsonable(v: Any) -> Any:
    """Trace values for JSON: enumeration members by name."""
    if isinstance(v, bool) or v is None:
        return v
    name = getattr(v, "name", None)
    if isinstance(v, int) and name is not None:
        return name
    if isinstance(v, int | float | str):
        return v
    return str(v)


def _prove(spec: Any, query_timeout_s: float, progress: Path) -> list[dict[str, Any]]:
    """Every property of the mutant spec through the prover; one JSON line per property
    is appended to ``progress`` as it finishes (kept if the worker is timed out)."""
    from iabp.proofs.prover import prove_all

    rows: list[dict[str, Any]] = []

    def done(prop: Any, r: Any) -> None:
        row = {"id": prop.id, "status": r.status.value, "method": r.method,
               "seconds": round(r.seconds, 2), "reason": r.reason[:400],
               "trace_ticks": None if r.counterexample is None else len(r.counterexample)}
        rows.append(row)
        with progress.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"    {prop.id:<26} {row['status']:<9} {row['seconds']:7.2f} s", file=sys.stderr,
              flush=True)

    prove_all(spec, list(spec.properties), timeout_s=query_timeout_s, on_done=done)
    return rows


def _all_lemmas(spec: Any) -> list[Any]:
    """The lemmas some property's proof proves (so the proved over-approximation of the
    reachable states of the unmutated spec)."""
    ids = {lid for p in spec.properties for lid in p.lemmas}
    return list(spec.lemma_closure(ids))


def equivalence(orig: Any, mut: Any, timeout_s: float) -> dict[str, Any]:
    """Can the mutant's step ever differ from the original's in a reachable state?

    One shared current state and input frame; two next frames (original, mutant) with the
    environment's free choices tied together. Hypotheses: the ORIGINAL spec's proved lemmas
    and declared domains on the current state, every environment assumption. Asked
    repeatedly: can any not-yet-differing next-state variable differ? Unsat for all, plus
    an identical power-on, means the mutant is the same machine (by induction over ticks).
    """
    import z3

    from iabp.proofs.to_z3 import EnumSorts, Frame, domains, state_translator, step_relation
    from iabp.spec.expr import And
    from iabp.spec.walker import to_sexpr

    out: dict[str, Any] = {}
    o_lines = {a.target: to_sexpr(a.expr) for a in orig.step}
    m_lines = {a.target: to_sexpr(a.expr) for a in mut.step}
    out["differing_lines"] = sorted(t for t in o_lines.keys() | m_lines.keys()
                                    if o_lines.get(t) != m_lines.get(t))
    same_shape = ([(s.name, str(s.sort)) for s in orig.state]
                  == [(s.name, str(s.sort)) for s in mut.state]
                  and [i.name for i in orig.inputs] == [i.name for i in mut.inputs]
                  and [to_sexpr(e.expr) for e in orig.env] == [to_sexpr(e.expr) for e in mut.env])
    if not same_shape:
        out.update(verdict="different", why="state, inputs or environment differ in shape")
        return out
    enums = EnumSorts()
    cur = Frame(orig, "s", enums)
    n1, n2 = Frame(orig, "o", enums), Frame(mut, "m", enums)
    tr = state_translator(cur, enums)
    solver = z3.Solver()
    solver.set("timeout", int(timeout_s * 1000))

    def power_on(spec: Any) -> Any:
        return tr(And(*spec.init, *[s.init for s in spec.state if s.init is not None]))

    dom = domains(orig, cur, enums)
    r = solver.check(*dom, z3.Xor(power_on(orig), power_on(mut)))
    out["power_on_differs"] = True if r == z3.sat else False if r == z3.unsat else None
    if r == z3.sat:
        m = solver.model()
        out["power_on_example"] = {
            s.name: _jsonable(_z3_value(m.eval(cur.consts[s.name], model_completion=True)))
            for s in orig.state if s.name.startswith("set_")}
    t1, _ = step_relation(orig, cur, n1, enums, None)
    t2, _ = step_relation(mut, cur, n2, enums, set())
    ties = [n2.consts[s.name] == n1.consts[s.name] for s in orig.chosen()]
    lemmas = [tr(lem.expr) for lem in _all_lemmas(orig)]
    solver.add(*dom, *lemmas, *t1, *t2, *ties)
    roles = {s.name: s.role.value for s in orig.state}
    remaining = [a.target for a in orig.step if not a.is_wire]
    differ: list[str] = []
    examples: list[dict[str, Any]] = []
    undecided = False
    while remaining:
        r = solver.check(z3.Or(*[n1.consts[x] != n2.consts[x] for x in remaining]))
        if r == z3.unsat:
            break
        if r != z3.sat:
            undecided = True
            out["reason_unknown"] = solver.reason_unknown()
            break
        m = solver.model()
        new = [x for x in remaining
               if not z3.is_true(m.eval(n1.consts[x] == n2.consts[x], model_completion=True))]
        if not new:  # cannot happen for a sat model; guard against looping
            undecided = True
            break
        ctx = {k: _jsonable(_z3_value(m.eval(cur.consts[k], model_completion=True)))
               for k in ("mode", "op", "inflate_cmd", "since_trigger_ms", "armed")
               if k in cur.consts}
        for x in new[:4]:
            examples.append({"var": x, "role": roles.get(x),
                             "original": _jsonable(_z3_value(m.eval(n1.consts[x], True))),
                             "mutant": _jsonable(_z3_value(m.eval(n2.consts[x], True))),
                             "state": ctx})
        differ += new
        remaining = [x for x in remaining if x not in new]
    out["differing_next_state"] = {x: roles.get(x) for x in differ}
    out["examples"] = examples[:6]
    if undecided:
        out["verdict"] = "undecided"
    elif differ or out["power_on_differs"]:
        out["verdict"] = "different"
    elif out["power_on_differs"] is None:
        out["verdict"] = "undecided"
    else:
        out["verdict"] = "equivalent"
    return out


def _z3_value(v: Any) -> Any:
    from iabp.proofs.engine import z3_scalar

    scalar = z3_scalar(v)
    # an enumeration constant Mode_STANDBY -> STANDBY
    return scalar if scalar is not None else str(v).split("_", 1)[-1]


def behaviour(orig: Any, mut: Any) -> dict[str, Any]:
    """Both specs run concretely on the scenario library (the spec simulator, every tick
    checked against every assumption): where the bedside outputs (mode, inflate command,
    alarms) first differ, and how many inflations, inflated ms and alarm ms each gives."""
    from iabp.proofs.scenarios import scenarios
    from iabp.proofs.simulate import SpecSimulator
    from iabp.spec.controller_step import ALARM_VARS

    outputs = ["mode", "inflate_cmd", *ALARM_VARS]
    sims = {}
    try:
        sims = {"original": SpecSimulator(orig), "mutant": SpecSimulator(mut)}
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        return {"error": f"simulator: {e}"}
    diffs: list[dict[str, Any]] = []
    n_scen = 0
    for sc in scenarios():
        n_scen += 1
        runs: dict[str, list[dict[str, Any]]] = {}
        errors: dict[str, str] = {}
        for label, sim in sims.items():
            try:
                runs[label] = sim.run(sc, [], keep_rows=True).rows
            except Exception as e:  # noqa: BLE001 - a run the mutant cannot make is a result
                errors[label] = f"{type(e).__name__}: {e}"[:200]
        if errors:
            diffs.append({"scenario": sc.name, "error": errors})
            continue
        a, b = runs["original"], runs["mutant"]
        first: dict[str, Any] | None = None
        for ra, rb in zip(a, b, strict=False):
            bad = [k for k in outputs if ra.get(k) != rb.get(k)]
            if bad:
                first = {"tick": ra["tick"], "vars": {k: [_jsonable(ra.get(k)), _jsonable(rb.get(k))]
                                                      for k in bad[:4]}}
                break
        if first is None:
            continue

        def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
            starts = sum(1 for p, q in zip(rows, rows[1:], strict=False)
                         if q["inflate_cmd"] and not p["inflate_cmd"])
            alarms = {k[4:]: sum(1 for r in rows if r.get(k)) for k in ALARM_VARS}
            return {"inflations": starts, "inflated_ms": sum(1 for r in rows if r["inflate_cmd"]),
                    "alarm_ms": {k: v for k, v in alarms.items() if v}}

        diffs.append({"scenario": sc.name, "first_difference": first,
                      "original": summary(a), "mutant": summary(b)})
    return {"scenarios": n_scen, "differing": diffs}


def worker(args: argparse.Namespace) -> int:
    """The subprocess side: build, prove, and (no trace found) compare with the original."""
    root = Path(args.root).resolve()
    result: dict[str, Any] = {"root": str(root)}
    out = Path(args.result)
    t0 = time.perf_counter()
    try:
        iabp = _isolate(root)
        result["iabp_path"] = [str(p) for p in iabp.__path__]
        try:
            from iabp.spec.iabp import iabp_spec

            spec = iabp_spec()
            result["spec_file"] = sys.modules["iabp.spec.iabp"].__file__
        except Exception as e:  # noqa: BLE001 - a mutant that does not build is stillborn
            result["built"] = False
            result["build_error"] = f"{type(e).__name__}: {e}"[:500]
            result["isolated_files"] = len(_assert_isolated(root))
            out.write_text(json.dumps(result, indent=1))
            return 0
        result["built"] = True
        result["spec_sha256"] = spec.sha256()
        if args.dump_original:
            Path(args.dump_original).write_bytes(pickle.dumps(spec))
        result["properties"] = _prove(spec, args.query_timeout, Path(args.progress))
        result["prove_seconds"] = round(time.perf_counter() - t0, 2)
        if args.original and not any(r["status"] == "VIOLATED" for r in result["properties"]):
            orig = pickle.loads(Path(args.original).read_bytes())
            t1 = time.perf_counter()
            result["equivalence"] = equivalence(orig, spec, args.query_timeout)
            if result["equivalence"]["verdict"] != "equivalent":
                result["behaviour"] = behaviour(orig, spec)
            result["compare_seconds"] = round(time.perf_counter() - t1, 2)
        result["isolated_files"] = len(_assert_isolated(root))
    except Exception as e:  # noqa: BLE001 - reported to the parent
        result["worker_error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"
    out.write_text(json.dumps(result, indent=1, default=str))
    return 0


# ======================================================================================
# parent: snapshots, copies, runs workers, classifies, writes the report
# ======================================================================================

def _git(*cmd: str) -> str:
    return subprocess.run(["git", *cmd], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_base(workdir: Path, base: str) -> dict[str, Any]:
    """The unmutated snapshot every mutant is copied from: ``<workdir>/_base/iabp``."""
    dest = workdir / "_base" / "iabp"
    if dest.parent.exists():
        shutil.rmtree(dest.parent)
    dest.mkdir(parents=True)
    info: dict[str, Any] = {"base": base, "commit": _git("rev-parse", "HEAD")}
    if base == "HEAD":
        archive = subprocess.run(["git", "archive", "HEAD", *PACKAGE_PARTS], cwd=REPO,
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        for part in PACKAGE_PARTS:
            src = REPO / part
            if src.is_dir():
                shutil.copytree(src, dest / part,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(src, dest / part)
        info["dirty"] = _git("status", "--porcelain", "--", *PACKAGE_PARTS).splitlines()
    return info


def run_worker(root: Path, timeout_s: float, query_timeout_s: float, log: Path,
               original: Path | None = None, dump_original: Path | None = None
               ) -> tuple[dict[str, Any], float, bool]:
    """Run the worker on the copy at ``root`` (``PYTHONPATH=root``) in its own process
    group; returns (result, seconds, timed_out)."""
    result_path, progress = root / "result.json", root / "progress.jsonl"
    for p in (result_path, progress):
        p.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--root", str(root),
           "--result", str(result_path), "--progress", str(progress),
           "--query-timeout", str(query_timeout_s)]
    if original is not None:
        cmd += ["--original", str(original)]
    if dump_original is not None:
        cmd += ["--dump-original", str(dump_original)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    t0 = time.perf_counter()
    timed_out = False
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    seconds = time.perf_counter() - t0
    result: dict[str, Any] = {}
    if result_path.exists():
        result = json.loads(result_path.read_text())
    elif progress.exists():
        result = {"built": True, "properties": [json.loads(line) for line in
                                                progress.read_text().splitlines() if line]}
    if not result:
        result = {"worker_error": f"no result (exit {proc.returncode}); see {log}"}
    return result, seconds, timed_out


def classify(result: dict[str, Any], proved_at_base: set[str], timed_out: bool
             ) -> tuple[str, list[str], list[str]]:
    """(outcome, properties that killed it with a trace, properties no longer PROVED)."""
    if result.get("built") is False:
        return STILLBORN, [], []
    props = result.get("properties", [])
    killed = [r["id"] for r in props if r["status"] == "VIOLATED" and r["id"] in proved_at_base
              and r.get("trace_ticks")]
    not_proved = [f"{r['id']} {r['status']}" for r in props
                  if r["status"] != "PROVED" and r["id"] in proved_at_base]
    if killed:
        return KILLED, killed, not_proved
    if timed_out:
        return TIMEOUT, [], not_proved
    if "worker_error" in result and not props:
        return STILLBORN, [], []
    if not_proved:
        return UNKNOWN_ONLY, [], not_proved
    verdict = result.get("equivalence", {}).get("verdict")
    if verdict == "equivalent":
        return EQUIVALENT, [], []
    if verdict == "different":
        return DIFFERENT, [], []
    return UNDECIDED, [], []


def run_one(op: MutationOp, workdir: Path, args: argparse.Namespace,
            proved_at_base: set[str], original: Path) -> dict[str, Any]:
    """Copy the snapshot, apply ``op``, run the worker, classify."""
    root = workdir / op.id
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(workdir / "_base" / "iabp", root / "iabp")
    mutate_tree(op, root / "iabp")
    result, seconds, timed_out = run_worker(root, args.timeout, args.query_timeout,
                                            root / "worker.log", original=original)
    if result.get("built") and "iabp_path" in result:
        # the worker must have imported the copy, never the editable install
        assert result["iabp_path"] == [str(root / "iabp")], result["iabp_path"]
        assert str(result.get("spec_file", "")).startswith(str(root / "iabp")), result
    outcome, killed_by, not_proved = classify(result, proved_at_base, timed_out)
    entry = {
        "id": op.id, "kind": op.kind, "file": op.file, "meaning": op.meaning,
        "issue14": op.issue14, "old": op.old, "new": op.new, "outcome": outcome,
        "killed_by": killed_by, "not_proved": not_proved, "seconds": round(seconds, 1),
        "timed_out": timed_out, "run_at": dt.datetime.now().isoformat(timespec="seconds"),
        "statuses": {r["id"]: r["status"] for r in result.get("properties", [])},
        "methods": {r["id"]: r["method"] for r in result.get("properties", [])
                    if r["status"] == "VIOLATED"},
        "imported_from": result.get("spec_file"),
        "build_error": result.get("build_error"), "worker_error": result.get("worker_error"),
        "equivalence": result.get("equivalence"), "behaviour": result.get("behaviour"),
    }
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return entry


# -- report ----------------------------------------------------------------------------

def score(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    counts = {o: sum(1 for e in entries if e["outcome"] == o) for o in OUTCOMES}
    denom = len(entries) - counts[STILLBORN] - counts[EQUIVALENT]
    return {"mutants": len(entries), "counts": counts, "killed_with_trace": counts[KILLED],
            "scored": denom, "score_pct": round(100.0 * counts[KILLED] / denom, 1) if denom else None}


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _behaviour_text(e: dict[str, Any]) -> str:
    b = e.get("behaviour") or {}
    if "error" in b:
        return f"simulator: {b['error']}"
    parts = []
    for d in (b.get("differing") or [])[:4]:
        if "error" in d:
            parts.append(f"{d['scenario']}: {d['error']}")
            continue
        f, o, m = d["first_difference"], d["original"], d["mutant"]
        vs = ", ".join(f"{k} {a}->{b_}" for k, (a, b_) in f["vars"].items())
        alarms = sorted(set(o["alarm_ms"]) | set(m["alarm_ms"]))
        al = "; ".join(f"{k} {o['alarm_ms'].get(k, 0)}->{m['alarm_ms'].get(k, 0)} ms"
                       for k in alarms if o["alarm_ms"].get(k, 0) != m["alarm_ms"].get(k, 0))
        parts.append(f"{d['scenario']}: first at tick {f['tick']} ({vs}); inflations "
                     f"{o['inflations']}->{m['inflations']}, inflated "
                     f"{o['inflated_ms']}->{m['inflated_ms']} ms" + (f"; alarms {al}" if al else ""))
    n = len(b.get("differing") or [])
    if b and not n:
        parts.append(f"no bedside output differs on any of the {b.get('scenarios')} scenarios")
    elif n > 4:
        parts.append(f"(+{n - 4} more scenarios differ)")
    return " / ".join(parts)


def _equivalence_text(e: dict[str, Any]) -> str:
    q = e.get("equivalence") or {}
    if not q:
        return ""
    ctrl = [x for x, r in (q.get("differing_next_state") or {}).items() if r == "controller"]
    text = f"Z3: {q.get('verdict')}"
    if q.get("differing_lines"):
        text += f" (changed step lines: {', '.join(q['differing_lines'][:4])})"
    if q.get("power_on_differs"):
        text += "; power-on differs"
    if ctrl:
        text += f"; controller variables that can differ: {', '.join(ctrl[:8])}"
    elif q.get("differing_next_state"):
        text += f"; only non-controller variables differ: {', '.join(list(q['differing_next_state'])[:6])}"
    return text


def render(data: dict[str, Any]) -> str:
    s = data["score"]
    c = s["counts"]
    notes = {o.id: o.note for o in OPERATORS}
    lines = [
        "# Mutation campaign over spec/ (issue 14, Deliver 5)", "",
        f"Generated by `python benchmarks/bench_mutations.py` ({data['generated']}), base: "
        f"{data['base'].get('base')} at commit {data['base'].get('commit', '?')[:12]}, "
        f"{data['host']}. Catalogue: `benchmarks/mutation_ops.py` ({len(OPERATORS)} operators); "
        f"each mutant proved with `prove_all` in an isolated copy of the package.", "",
        f"**Score: {c[KILLED]} of {s['scored']} non-stillborn, non-equivalent mutants killed "
        f"with a trace from power-on ({s['score_pct']} %).** "
        + ", ".join(f"{o}: {c[o]}" for o in OUTCOMES if c[o]) + ". "
        f"Campaign wall time {data.get('total_seconds', 0) / 60:.1f} min"
        + (f"; rows re-run since: {', '.join(i for m in data['merged_runs'] for i in m['ids'])}"
           if data.get("merged_runs") else "") + ".", "",
        "Outcomes: KILLED = a property PROVED on the unmutated spec is VIOLATED with a trace "
        "from power-on; KILLED-UNKNOWN-ONLY = no trace, but a property is no longer PROVED "
        "(not counted as a kill); EQUIVALENT = Z3 shows the mutant's step and power-on equal "
        "the original's in every state the original's proved lemmas allow (excluded from the "
        "score); SURVIVED-DIFFERENT = everything PROVED although the mutant can behave "
        "differently.", "",
        "| operator | kind | file | clinical meaning | outcome | killed by (or no longer PROVED) | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in data["mutants"]:
        who = ", ".join(e["killed_by"]) if e["killed_by"] else "; ".join(e["not_proved"])
        tag = " (issue 14)" if e.get("issue14") else ""
        lines.append(f"| `{e['id']}`{tag} | {e['kind']} | {e['file'].removeprefix('spec/')} | "
                     f"{_cell(e['meaning'])} | {e['outcome']} | {_cell(who)} | {e['seconds']} |")
    rest = [e for e in data["mutants"] if e["outcome"] not in (KILLED,)]
    if rest:
        lines += ["", "## Survivors, UNKNOWN-only and equivalent mutants", "",
                  "| operator | outcome | equivalence check | what differs at the bedside "
                  "(scenario library, original -> mutant) | argument / property that would kill it |",
                  "|---|---|---|---|---|"]
        for e in rest:
            err = e.get("build_error") or e.get("worker_error") or ""
            lines.append(f"| `{e['id']}` | {e['outcome']} | {_cell(_equivalence_text(e) or err[:200])} | "
                         f"{_cell(_behaviour_text(e))} | {_cell(notes.get(e['id'], ''))} |")
    lines += ["", "## The edits", "", "| operator | file | old | new |", "|---|---|---|---|"]
    for e in data["mutants"]:
        lines.append(f"| `{e['id']}` | {e['file']} | `{_cell(e['old'])}` | `{_cell(e['new'])}` |")
    return "\n".join(lines) + "\n"


def write(data: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    order = {o.id: i for i, o in enumerate(OPERATORS)}
    data["mutants"].sort(key=lambda e: order.get(e["id"], len(order)))
    data["score"] = score(data["mutants"])
    (out_dir / "mutations.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (out_dir / "mutations.md").write_text(render(data))


def _print_list(ops: Iterable[MutationOp]) -> None:
    for o in ops:
        print(f"{o.id:<34} {o.kind:<17} {o.file:<24} {'[issue 14] ' if o.issue14 else ''}{o.meaning}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--only", action="append", default=[], metavar="ID",
                    help="run only this operator (repeatable); merges into existing results")
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    ap.add_argument("--query-timeout", type=float, default=60.0, help="seconds per SMT query")
    ap.add_argument("--base", choices=("HEAD", "worktree"), default="HEAD",
                    help="snapshot the committed spec (default) or the working tree")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/mut"))
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    ap.add_argument("--keep", action="store_true", help="keep each mutant's copy and log")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render mutations.md from mutations.json (notes from the catalogue)")
    # worker mode (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--progress", help=argparse.SUPPRESS)
    ap.add_argument("--original", help=argparse.SUPPRESS)
    ap.add_argument("--dump-original", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.list:
        _print_list(OPERATORS)
        return 0
    json_path = args.out_dir / "mutations.json"
    if args.render_only:
        stored: dict[str, Any] = json.loads(json_path.read_text())
        write(stored, args.out_dir)
        print(f"score: {stored['score']}; {args.out_dir / 'mutations.md'}")
        return 0
    unknown = [i for i in args.only if i not in OPERATOR_BY_ID]
    if unknown:
        print(f"unknown operator(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    ops = [OPERATOR_BY_ID[i] for i in args.only] if args.only else list(OPERATORS)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base = make_base(workdir, args.base)
    broken = []
    for op in ops:  # every anchor checked on the snapshot before any time is spent
        try:
            apply_op(op, (workdir / "_base" / "iabp" / op.file).read_text())
        except AnchorError as e:
            broken.append(str(e))
    if broken:
        print("catalogue does not match the spec:\n  " + "\n  ".join(broken), file=sys.stderr)
        return 2
    original = workdir / "_base" / "original.pkl"
    print(f"baseline: proving the unmutated snapshot ({base['base']} {base['commit'][:12]})",
          flush=True)
    res, secs, timed_out = run_worker(workdir / "_base", args.timeout, args.query_timeout,
                                      workdir / "_base" / "worker.log", dump_original=original)
    if not res.get("built") or timed_out or "worker_error" in res:
        print(f"the unmutated spec does not prove cleanly: {res}", file=sys.stderr)
        return 1
    assert res["iabp_path"] == [str(workdir / "_base" / "iabp")], res["iabp_path"]
    baseline = {r["id"]: r["status"] for r in res["properties"]}
    proved_at_base = {k for k, v in baseline.items() if v == "PROVED"}
    print(f"baseline: {len(proved_at_base)} of {len(baseline)} properties PROVED in {secs:.1f} s",
          flush=True)
    run_info = {"at": dt.datetime.now().isoformat(timespec="seconds"), "base": base,
                "baseline": baseline, "baseline_seconds": round(secs, 1),
                "host": f"{platform.node()}, {os.cpu_count()} CPUs, "
                        f"python {platform.python_version()}",
                "command": " ".join(["python benchmarks/bench_mutations.py", *sys.argv[1:]])}
    merging = bool(args.only) and json_path.exists()
    data: dict[str, Any] = {"mutants": []}
    if merging:  # a partial re-run replaces its operators' rows; the campaign's header stays
        data = json.loads(json_path.read_text())
        data["mutants"] = [e for e in data["mutants"] if e["id"] not in set(args.only)]
        data.setdefault("merged_runs", []).append({**run_info, "ids": list(args.only)})
    else:
        data.update(generated=run_info["at"], **{k: v for k, v in run_info.items() if k != "at"})

    def done(entry: dict[str, Any]) -> None:
        data["mutants"].append(entry)
        who = ", ".join(entry["killed_by"]) or "; ".join(entry["not_proved"]) or \
            (entry.get("equivalence") or {}).get("verdict", "") or \
            (entry.get("build_error") or entry.get("worker_error") or "")[:120]
        print(f"[{len(data['mutants']):>3}] {entry['id']:<34} {entry['outcome']:<20} "
              f"{entry['seconds']:7.1f} s  {who}", flush=True)
        if not merging:
            data["total_seconds"] = round(time.perf_counter() - t0, 1)
        write(data, args.out_dir)

    if args.jobs <= 1:
        for op in ops:
            done(run_one(op, workdir, args, proved_at_base, original))
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_one, op, workdir, args, proved_at_base, original)
                       for op in ops]
            for fut in concurrent.futures.as_completed(futures):
                done(fut.result())
    seconds = round(time.perf_counter() - t0, 1)
    if merging:
        data["merged_runs"][-1]["seconds"] = seconds
    else:
        data["total_seconds"] = seconds
    write(data, args.out_dir)
    s = data["score"]
    print(f"\nscore: {s['killed_with_trace']} of {s['scored']} non-stillborn, non-equivalent "
          f"mutants killed with a trace = {s['score_pct']} %  ({s['counts']}); "
          f"{seconds / 60:.1f} min; {args.out_dir / 'mutations.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
