"""minternet: a miniature Internet application layer (DNS, mail, BitTorrent) on loopback."""
