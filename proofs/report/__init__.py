"""The evidence report: HTML and Markdown, built from the spec and the proof artifacts."""
