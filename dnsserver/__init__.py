"""dnsserver: one authoritative DNS engine for the root, TLD and authoritative roles."""
