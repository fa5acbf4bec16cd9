"""The traceability matrix: hazard -> requirement -> property -> proof -> monitor rule -> tests."""
