"""The executable controller built from spec/ (the compiled step and the mode machine) and its trigger detection."""
