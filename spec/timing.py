"""Heart timing: Weissler's regressions turned into rate bands the prover can use.

Weissler (men; HR in bpm, times in ms from Q onset): pre-ejection period
PEP = 131 - 0.4 HR, total electromechanical systole (aortic valve closure)
QS2 = 546 - 2.1 HR. With HR = 60000 / RR both are increasing, concave functions of
the R-R interval. To keep every proof in linear integer arithmetic, the supported R-R
range is cut into bands and each band gets a conservative constant: the lowest PEP
and the highest QS2 the band can have, widened by a stated tolerance.

All values are whole milliseconds, counted from the ONSET of the QRS complex, where
Weissler measured them (the whole model's beat starts there: ``heart_t_ms`` is 0 on
the tick of the QRS onset, and the R-wave detector's delay is measured from it too).
``rr`` is the beat-to-beat interval that ENDS at the beat in question (the heart rate the
ventricle has just seen); onset-to-onset and R-to-R intervals are the same quantity for
beats of one morphology.
"""

from __future__ import annotations

import math

from iabp.spec.expr import Expr, ExprLike, step_table

#: Slowest and fastest supported heart rate (bpm) and the matching R-R bounds (ms).
HR_MIN_BPM = 40
HR_MAX_BPM = 180
RR_MIN_MS = math.ceil(60000 / HR_MAX_BPM)  # 334
RR_MAX_MS = 60000 // HR_MIN_BPM  # 1500

#: Tolerance around Weissler's regression (about one standard error of estimate).
PEP_TOL_MS = 10
QS2_TOL_MS = 15

#: Band edges over the R-R range (ms). Finer where the curves are steep (fast rates).
RR_BAND_EDGES_MS: tuple[int, ...] = (
    RR_MIN_MS, 360, 380, 400, 430, 460, 500, 545, 600, 670, 750, 860, 1000, 1200, RR_MAX_MS,
)


def weissler_pep_ms(rr_ms: float) -> float:
    """Weissler pre-ejection period (QRS onset to aortic valve opening) for an R-R interval."""
    return 131.0 - 0.4 * 60000.0 / rr_ms


def weissler_qs2_ms(rr_ms: float) -> float:
    """Weissler total electromechanical systole (QRS onset to aortic valve closure)."""
    return 546.0 - 2.1 * 60000.0 / rr_ms


def _upper_edges() -> list[float]:
    return [*RR_BAND_EDGES_MS[1:], RR_MAX_MS]


def pep_lo_band_ms(tol_ms: int = PEP_TOL_MS) -> tuple[int, ...]:
    """Shortest PEP per band, Weissler's value at the band's fast edge minus ``tol_ms``."""
    return tuple(math.floor(weissler_pep_ms(e)) - tol_ms for e in RR_BAND_EDGES_MS)


def pep_hi_band_ms(tol_ms: int = PEP_TOL_MS) -> tuple[int, ...]:
    """Longest PEP per band, Weissler's value at the band's slow edge plus ``tol_ms``."""
    return tuple(math.ceil(weissler_pep_ms(e)) + tol_ms for e in _upper_edges())


def qs2_lo_band_ms(tol_ms: int = QS2_TOL_MS) -> tuple[int, ...]:
    """Earliest valve closure per band, Weissler's value at the fast edge minus ``tol_ms``."""
    return tuple(math.floor(weissler_qs2_ms(e)) - tol_ms for e in RR_BAND_EDGES_MS)


def qs2_hi_band_ms(tol_ms: int = QS2_TOL_MS) -> tuple[int, ...]:
    """Latest valve closure per band, Weissler's value at the slow edge plus ``tol_ms``."""
    return tuple(math.ceil(weissler_qs2_ms(e)) + tol_ms for e in _upper_edges())


PEP_LO_BAND_MS: tuple[int, ...] = pep_lo_band_ms()
PEP_HI_BAND_MS: tuple[int, ...] = pep_hi_band_ms()
QS2_LO_BAND_MS: tuple[int, ...] = qs2_lo_band_ms()
QS2_HI_BAND_MS: tuple[int, ...] = qs2_hi_band_ms()


def pep_lo_ms(rr: ExprLike, tol_ms: int = PEP_TOL_MS) -> Expr:
    """Shortest pre-ejection period the heart may have after an R-R of ``rr`` ms."""
    return step_table(rr, RR_BAND_EDGES_MS, pep_lo_band_ms(tol_ms))


def pep_hi_ms(rr: ExprLike, tol_ms: int = PEP_TOL_MS) -> Expr:
    """Longest pre-ejection period the heart may have after an R-R of ``rr`` ms."""
    return step_table(rr, RR_BAND_EDGES_MS, pep_hi_band_ms(tol_ms))


def qs2_lo_ms(rr: ExprLike, tol_ms: int = QS2_TOL_MS) -> Expr:
    """Earliest aortic valve closure (end of ejection) after an R-R of ``rr`` ms."""
    return step_table(rr, RR_BAND_EDGES_MS, qs2_lo_band_ms(tol_ms))


def qs2_hi_ms(rr: ExprLike, tol_ms: int = QS2_TOL_MS) -> Expr:
    """Latest aortic valve closure (end of ejection) after an R-R of ``rr`` ms."""
    return step_table(rr, RR_BAND_EDGES_MS, qs2_hi_band_ms(tol_ms))


def band_table() -> list[dict[str, int]]:
    """The band table as rows, for the report and the README."""
    uppers = [*RR_BAND_EDGES_MS[1:], RR_MAX_MS]
    return [
        {"rr_from_ms": lo, "rr_to_ms": hi, "pep_lo_ms": a, "pep_hi_ms": b,
         "qs2_lo_ms": c, "qs2_hi_ms": d}
        for lo, hi, a, b, c, d in zip(RR_BAND_EDGES_MS, uppers, PEP_LO_BAND_MS,
                                      PEP_HI_BAND_MS, QS2_LO_BAND_MS, QS2_HI_BAND_MS,
                                      strict=True)
    ]
