"""The executable controller built from spec/, trigger detection, and the simulated patient and console."""
