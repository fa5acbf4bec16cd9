"""Translations of the spec that the controller, the monitor and the prover share: spec -> Python and the settings validator (spec -> Z3 lives in proofs/, which alone needs a solver)."""
