"""One-to-one matching of detections to reference beats, shared by the benchmarks.

Reference beats, in order, each take the closest still unused detection within ``tol``
(the same unit as the indices: samples, or ms at 1 kHz). A detection matches at most one
reference beat; an unmatched reference beat is a miss, an unmatched detection a false one.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def match_to_reference(ref: npt.ArrayLike, det: npt.ArrayLike, tol: float) -> IntArray:
    """For each reference beat the index of its detection in ``det``, or -1 (missed)."""
    r_arr = np.asarray(ref, dtype=np.int64)
    d_arr = np.asarray(det, dtype=np.int64)
    out = np.full(r_arr.size, -1, dtype=np.int64)
    used = np.zeros(d_arr.size, dtype=bool)
    order = np.argsort(d_arr, kind="stable")
    sdet = d_arr[order]
    for i, r in enumerate(r_arr.tolist()):
        lo = int(np.searchsorted(sdet, r - tol, "left"))
        hi = int(np.searchsorted(sdet, r + tol, "right"))
        best, best_d = -1, math.inf
        for j in range(lo, hi):
            k = int(order[j])
            d = abs(float(sdet[j]) - r)
            if not used[k] and d < best_d:
                best, best_d = k, d
        if best >= 0:
            used[best] = True
            out[i] = best
    return out


def matched_pairs(ref: npt.ArrayLike, det: npt.ArrayLike, tol: float) -> tuple[IntArray, IntArray]:
    """(index into ``ref``, index into ``det``) of every matched pair, in reference order."""
    m = match_to_reference(ref, det, tol)
    ri = np.flatnonzero(m >= 0).astype(np.int64)
    return ri, m[ri]
