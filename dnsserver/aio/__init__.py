"""The asyncio shell of the DNS server: listeners, connections, timers, reload."""
