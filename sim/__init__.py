"""Everything that simulates: patient, ECG synthesis, record replay, closed loop, faults, simulated console, relay box, demo, plots. May import anything."""
