"""The runtime rules: the spec's properties compiled and checked on telemetry."""
