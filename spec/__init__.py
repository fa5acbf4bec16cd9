"""The single source of truth of the IABP controller: declarations only, no solver, no I/O."""
