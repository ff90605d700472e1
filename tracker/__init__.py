"""tracker: the BitTorrent tracker (HTTP and UDP announce and scrape)."""
