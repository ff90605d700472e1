"""The outbound queue's cores, without I/O: where a domain's mail goes (route.py), what an
attempt's outcomes do to a queued message and when it is tried next (retry.py), and the
delivery status notification that tells a sender what failed (dsn.py)."""
