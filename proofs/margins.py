"""Safety margins: how much worse may the patient or the hardware be before a proof fails?

A proof says "safe under these constants". For each environment or hardware constant of
:class:`iabp.spec.assumptions.World` (R-wave decision delay, helium arrival lag, deflation
time, R-R step, PEP step, PEP and QS2 tolerance, notch and upstroke delay, activity delay)
and each property whose proof uses
that constant's assumption, the prover itself finds the worst value for which the property
still PROVES, all other constants at their stated values, the controller unchanged (it
stays the one designed for the stated world: a World changes only what the heart, the
detectors and the pneumatics may do).

Each margin is searched by proofs: from the stated value the constant is made worse by
1, 2, 4, 8 ... ms until a proof fails, then bisected between the last value proved and
the first that failed. Both end points are actual runs of the prover: the margin PROVED
(every obligation unsat), the next value NOT PROVED with the failing obligation named
(an induction step the solver can break, or gives up on). The bisection takes for granted
that a worse world is never easier to prove (a wider bound only adds behaviours); each end
point is checked, not assumed.

Two scopes, because the prover's own scope is every setting the validator accepts:
``every setting`` (the proof's scope: the margin of the design's worst setting, e.g. the
shortest deflation lead the validator allows) and ``default settings`` (the console as
shipped). Per heart-rate band the heart is confined to that band (ASM-HEART-RATE
narrowed), which is where thin margins show. A band in which a property's premise never
holds (e.g. the efficacy envelope above its rate) is reported as not applicable.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from iabp.proofs.counterexample import cti_text
from iabp.proofs.engine import (
    ProofContext,
    induction_counterexample,
    property_assumptions,
    prove_property,
)
from iabp.proofs.results import Answer, Status
from iabp.spec.assumptions import STATED_WORLD, World
from iabp.spec.expr import BOOL, And, Not, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.settings import SETTINGS
from iabp.spec.system import EnvConstraint, Property, PropertyKind, SystemSpec
from iabp.spec.timing import RR_MAX_MS, RR_MIN_MS


@dataclass(frozen=True)
class MarginConstant:
    """One bound of the world the margin search moves, and which way is worse."""

    field: str  #: the :class:`World` field (ms)
    label: str  #: what it is, for the tables
    assumption: str  #: the ASM-* whose constraints read it
    worse: int  #: +1 when a larger value is worse (a delay), -1 when a smaller one is
    limit: int  #: the search stops here: the margin is reported as "at least" this

    @property
    def stated(self) -> int:
        value: int = getattr(STATED_WORLD, self.field)
        return value


CONSTANTS: tuple[MarginConstant, ...] = (
    MarginConstant("r_detect_delay_max_ms", "R-wave decision delay, latest (ms after QRS "
                   "onset)", "ASM-R-DETECT", +1, 200),
    MarginConstant("gas_inflate_lag_min_ms", "helium arrival after the inflate command, "
                   "earliest (ms)", "ASM-GAS", -1, 0),
    MarginConstant("gas_deflate_max_ms", "balloon empty after the deflate command, latest "
                   "(ms)", "ASM-GAS", +1, 150),
    MarginConstant("rr_step_max_ms", "R-R change from one beat to the next, largest (ms)",
                   "ASM-RR-STEP", +1, 300),
    MarginConstant("pep_tol_ms", "pre-ejection period tolerance around Weissler (ms)",
                   "ASM-EJECTION", +1, 55),
    MarginConstant("qs2_tol_ms", "end-of-ejection (QS2) tolerance around Weissler (ms)",
                   "ASM-EJECTION", +1, 100),
    MarginConstant("notch_delay_max_ms", "dicrotic-notch decision delay, latest (ms after "
                   "valve closure)", "ASM-PRESSURE-DETECT", +1, 300),
    MarginConstant("r_detect_delay_min_ms", "R-wave decision delay, earliest (ms after QRS "
                   "onset)", "ASM-R-DETECT", -1, 0),
    MarginConstant("pep_step_max_ms", "pre-ejection period change from one beat to the "
                   "next, largest (ms)", "ASM-PEP-STEP", +1, 60),
    MarginConstant("upstroke_delay_max_ms", "systolic-upstroke decision delay, latest (ms "
                   "after valve opening)", "ASM-PRESSURE-DETECT", +1, 250),
    MarginConstant("activity_delay_max_ms", "cardiac activity noticed, latest (ms after QRS "
                   "onset)", "ASM-ACTIVITY", +1, 400),
)
CONSTANT_BY_FIELD: dict[str, MarginConstant] = {c.field: c for c in CONSTANTS}


@dataclass(frozen=True)
class RateBand:
    """A heart-rate band: the heart's R-R stays in ``[rr_min_ms, rr_max_ms]``."""

    name: str
    rr_min_ms: int
    rr_max_ms: int


ALL_RATES = RateBand("40-180 bpm (all)", RR_MIN_MS, RR_MAX_MS)
BANDS: tuple[RateBand, ...] = (
    ALL_RATES,
    RateBand("40-60 bpm", 1000, RR_MAX_MS),
    RateBand("60-80 bpm", 750, 1000),
    RateBand("80-100 bpm", 600, 750),
    RateBand("100-120 bpm", 500, 600),
    RateBand("120-150 bpm", 400, 500),
    RateBand("150-180 bpm", RR_MIN_MS, 400),
)
BAND_BY_NAME: dict[str, RateBand] = {b.name: b for b in BANDS}

EVERY_SETTING = "every setting"
DEFAULT_SETTINGS = "default settings"
SCOPES: tuple[str, ...] = (EVERY_SETTING, DEFAULT_SETTINGS)
#: The assumption the default-settings scope adds to every property: the operator never
#: changes a setting, and the settings in force are the defaults (from power-on).
ASM_DEFAULT_SETTINGS = "ASM-DEFAULT-SETTINGS"


def with_default_settings(spec: SystemSpec) -> SystemSpec:
    """``spec`` with every setting pinned to its default and no settings change requested
    (an assumption every property of the copy uses)."""
    fixed = And(*[s.var.eq(s.default) for s in SETTINGS])
    env = EnvConstraint(ASM_DEFAULT_SETTINGS, And(fixed, Not(Var("set_request", BOOL))),
                        "the settings in force are the defaults and are never changed")
    props = tuple(dataclasses.replace(p, assumptions=(*p.assumptions, ASM_DEFAULT_SETTINGS))
                  for p in spec.properties)
    return dataclasses.replace(spec, env=(*spec.env, env), init=(*spec.init, fixed),
                               properties=props).checked()


def world_for(band: RateBand, changes: dict[str, int] | None = None) -> World:
    """The stated world, confined to ``band``, with ``changes`` applied."""
    return STATED_WORLD.with_(rr_min_ms=band.rr_min_ms, rr_max_ms=band.rr_max_ms,
                              **(changes or {}))


def uses(spec: SystemSpec, prop: Property, constant: MarginConstant) -> bool:
    """The property's proof reads this constant (its assumption is among the proof's)."""
    return constant.assumption in spec.assumptions_of(prop)


@dataclass
class Margin:
    """The margin of one constant for one property, in one scope and rate band."""

    scope: str
    band: str
    constant: str
    property_id: str
    stated: int
    worse: int
    #: the worst value proved (None: the property is not proved, or vacuous, at the stated
    #: value in this band)
    margin: int | None
    at_limit: bool = False  #: proved up to the search limit: the margin is at least this
    failed_at: int | None = None  #: the first value not proved (the margin's other end)
    failed_query: str = ""  #: the obligation that failed there, and the solver's answer
    #: its counterexample to induction there (a state pair the lemmas allow, as a table;
    #: not shown reachable from power-on)
    failed_cti: str = ""
    status_at_stated: str = "PROVED"  #: PROVED, VACUOUS (premise never holds in the band)...
    proofs: int = 0  #: prover runs this margin took
    seconds: float = 0.0

    @property
    def slack(self) -> int | None:
        """How much worse than stated the constant may be (ms), None if not applicable."""
        return None if self.margin is None else (self.margin - self.stated) * self.worse

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "slack": self.slack}


@dataclass
class _WorldProofs:
    """One world's spec and solver context, with the answers of the queries already run
    (properties with the same lemmas and assumptions share their lemma obligations)."""

    spec: SystemSpec
    ctx: ProofContext
    #: per query: the answer, the solver's reason, and the counterexample to induction
    answers: dict[tuple[Any, ...], tuple[Answer, str, list[dict[str, Any]] | None]] = field(
        default_factory=dict)


class MarginSearch:
    """Runs the margin searches of one scope, with a cache of the worlds already built."""

    def __init__(self, scope: str, timeout_s: float = 20.0) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}; known: {', '.join(SCOPES)}")
        self.scope = scope
        self.timeout_s = timeout_s
        self._worlds: dict[World, _WorldProofs] = {}
        self._full: dict[tuple[World, str], tuple[Status, str]] = {}
        #: per property, the obligation that failed last: tried first at the next probe
        #: (a failing probe then costs one query instead of every lemma before it)
        self._suspect: dict[str, str] = {}
        self.proofs = 0

    def _world(self, w: World) -> _WorldProofs:
        if w not in self._worlds:
            if len(self._worlds) > 24:
                self._worlds.pop(next(iter(self._worlds)))
            spec = iabp_spec(w)
            if self.scope == DEFAULT_SETTINGS:
                spec = with_default_settings(spec)
            self._worlds[w] = _WorldProofs(spec, ProofContext(spec, timeout_s=self.timeout_s))
        return self._worlds[w]

    def full_proof(self, w: World, pid: str) -> tuple[Status, str]:
        """The whole proof (sanity and vacuity checks included) at a world."""
        if (w, pid) not in self._full:
            wp = self._world(w)
            self.proofs += 1
            r = prove_property(wp.ctx, wp.spec.property(pid))
            self._full[(w, pid)] = (r.status, r.reason)
        return self._full[(w, pid)]

    def obligations(self, w: World, pid: str) -> tuple[bool, str, str]:
        """Only the proof obligations (base and step of every lemma and of the property),
        each must be unsat; returns (proved, the first obligation that was not, and its
        counterexample to induction as a table)."""
        wp = self._world(w)
        self.proofs += 1
        prop = wp.spec.property(pid)
        # the lemma obligations depend only on the lemmas, the assumptions and (for a state
        # property, which joins the induction) the property: that is the cache key
        key_base = (property_assumptions(wp.spec, prop), prop.lemmas,
                    prop.id if prop.kind is PropertyKind.STATE else None)
        queries = wp.ctx.obligations(prop)
        suspect = self._suspect.get(pid)
        queries.sort(key=lambda q: q.name != suspect)
        for q in queries:
            key = (*key_base, q.name)
            if key not in wp.answers:
                o = wp.ctx.run(q)
                rows = None if o.model is None else induction_counterexample(wp.ctx, q, o.model)
                wp.answers[key] = (o.answer, o.reason, rows)
            answer, reason, rows = wp.answers[key]
            if answer is not Answer.UNSAT:
                self._suspect[pid] = q.name
                return (False, f"{q.name} is {answer}" + (f" ({reason})" if reason else ""),
                        "" if rows is None else cti_text(rows, q.name, prop, wp.spec))
        return True, "", ""

    def margin(self, band: RateBand, constant: MarginConstant, pid: str,
               proved_to: int | None = None) -> Margin:
        """Gallop then bisect from the stated value to the worst value still proved.

        ``proved_to``: a value already known to prove here, because it proved in a wider
        setting (all rates contain every band, every setting contains the defaults: an
        invariant that is inductive for all behaviours is inductive for fewer of them), so
        the search starts there.
        """
        t0, p0 = time.perf_counter(), self.proofs
        m = Margin(self.scope, band.name, constant.field, pid, constant.stated,
                   constant.worse, None)
        status, reason = self.full_proof(world_for(band), pid)
        m.status_at_stated = status.value
        if status is not Status.PROVED:
            m.failed_query = reason
            return self._done(m, t0, p0)
        good, bad, bad_reason, bad_cti = constant.stated, None, "", ""
        if proved_to is not None and (proved_to - good) * constant.worse > 0:
            good = proved_to
        if good != constant.limit and good == constant.stated:
            # the limit first: a constant the property hardly depends on costs one proof
            proved, why, cti = self.obligations(world_for(band, {constant.field: constant.limit}),
                                           pid)
            if proved:
                good = constant.limit
            else:
                bad, bad_reason, bad_cti = constant.limit, why, cti
        # gallop: 1, 2, 4 ... ms worse than the last value proved, up to the first failure
        step = 1
        while good != constant.limit:
            probe = good + constant.worse * step
            if bad is not None and (probe - bad) * constant.worse >= 0:
                break
            if (probe - constant.limit) * constant.worse > 0:
                probe = constant.limit
            proved, why, cti = self.obligations(world_for(band, {constant.field: probe}), pid)
            if not proved:
                bad, bad_reason, bad_cti = probe, why, cti
                break
            good, step = probe, step * 2
        if good == constant.limit:
            m.margin, m.at_limit = good, True
            return self._done(m, t0, p0)
        while bad is not None and abs(bad - good) > 1:
            probe = (good + bad) // 2
            proved, why, cti = self.obligations(world_for(band, {constant.field: probe}), pid)
            if proved:
                good = probe
            else:
                bad, bad_reason, bad_cti = probe, why, cti
        m.margin, m.failed_at, m.failed_query, m.failed_cti = good, bad, bad_reason, bad_cti
        return self._done(m, t0, p0)

    def _done(self, m: Margin, t0: float, p0: int) -> Margin:
        m.proofs = self.proofs - p0
        m.seconds = round(time.perf_counter() - t0, 3)
        return m


def margin_tasks(spec: SystemSpec, props: Iterable[Property] | None = None,
                 constants: Iterable[MarginConstant] = CONSTANTS,
                 bands: Iterable[RateBand] = BANDS) -> list[tuple[RateBand, MarginConstant, str]]:
    """Every (band, constant, property) whose proof reads the constant; a property whose
    proof does not use the heart-rate assumption is searched over all rates only."""
    out = []
    chosen = list(spec.properties if props is None else props)
    for band in bands:
        for c in constants:
            for p in chosen:
                if not uses(spec, p, c):
                    continue
                if band is not ALL_RATES and "ASM-HEART-RATE" not in spec.assumptions_of(p):
                    continue
                out.append((band, c, p.id))
    return out


# -- running every search, on several processes ----------------------------------------
_SEARCHES: dict[tuple[str, float], MarginSearch] = {}


def _run_constant(field_name: str, timeout_s: float, scopes: tuple[str, ...],
                  chunk: list[tuple[str, str]]) -> list[Margin]:
    """Worker: every margin of one constant, over ``chunk`` (band name, property), in each
    scope: every setting before the defaults and all rates before the bands, so each search
    starts from the value a wider setting already proved (see :meth:`MarginSearch.margin`)."""
    constant = CONSTANT_BY_FIELD[field_name]
    order = sorted(chunk, key=lambda bp: bp[0] != ALL_RATES.name)
    done: dict[tuple[str, str, str], Margin] = {}
    for scope in (s for s in SCOPES if s in scopes):
        search = _SEARCHES.setdefault((scope, timeout_s), MarginSearch(scope, timeout_s))
        for band_name, pid in order:
            known = [m.margin for m in (done.get((scope, ALL_RATES.name, pid)),
                                         done.get((EVERY_SETTING, band_name, pid)),
                                         done.get((EVERY_SETTING, ALL_RATES.name, pid)))
                     if m is not None and m.margin is not None]
            best = max(known, key=lambda v: v * constant.worse) if known else None
            done[(scope, band_name, pid)] = search.margin(BAND_BY_NAME[band_name], constant,
                                                          pid, best)
    return list(done.values())


def run_margins(tasks: list[tuple[RateBand, MarginConstant, str]],
                scopes: Iterable[str] = SCOPES, jobs: int = 1, timeout_s: float = 20.0,
                on_done: Callable[[Margin], None] | None = None) -> list[Margin]:
    """Every margin of ``tasks`` in every scope; ``jobs`` > 1 runs them on that many
    processes (one constant per process at a time)."""
    chunks: dict[str, list[tuple[str, str]]] = {}
    for band, c, pid in tasks:
        chunks.setdefault(c.field, []).append((band.name, pid))
    chosen = tuple(scopes)
    out: list[Margin] = []

    def collect(ms: list[Margin]) -> None:
        for m in ms:
            out.append(m)
            if on_done is not None:
                on_done(m)

    if jobs <= 1:
        for f, chunk in chunks.items():
            collect(_run_constant(f, timeout_s, chosen, chunk))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run_constant, f, timeout_s, chosen, chunk)
                   for f, chunk in sorted(chunks.items(), key=lambda kv: -len(kv[1]))]
        for fut in as_completed(futures):
            collect(fut.result())
    return out
