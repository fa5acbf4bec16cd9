"""The runtime safety monitor: protocol, parser, runtime checks compiled from spec/, fail-safe, audit log."""
