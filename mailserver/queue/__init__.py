"""The outbound queue: where a domain's mail goes (route.py), what each remote reply means for
each recipient (attempt.py), what an attempt's outcomes do to a queued message and when it is
tried next (retry.py), the delivery status notification that tells a sender what failed
(dsn.py), all without I/O; and the spool folder that keeps it all across restarts (spool.py)."""
