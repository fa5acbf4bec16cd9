"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import math

from hypothesis import strategies as st


def ecg_garbage(max_size: int) -> st.SearchStrategy[list[float]]:
    """Lists of ECG samples (mV) a lead can deliver, garbage included: any float (NaN,
    infinities, huge values), plausible values, and runs of lead-off NaN."""
    return st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(min_value=-5.0, max_value=5.0),
            st.just(math.nan),
        ),
        min_size=1,
        max_size=max_size,
    )
