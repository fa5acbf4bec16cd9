"""Spec -> Z3 translation, the proof engine, artifacts, report and independent re-check."""
