"""The caching resolver's sans-I/O cores: cache, root hints, iteration, policy, statistics."""
