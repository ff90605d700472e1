"""The tracker's asyncio shell: HTTP and UDP listeners, the periodic expiry, the daemon."""
