"""The peer's shells: what touches files, sockets and the clock around the sans-I/O cores."""
