"""Independent reconstruction of the spec's variables from raw telemetry (REQ-MON-INDEPENDENT)."""
