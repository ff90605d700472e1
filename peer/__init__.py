"""The BitTorrent peer: sans-I/O cores (torrent files, the wire protocol, the piece picker, the
choker, how pieces map onto files) and, on top of them, the asyncio shell and the `peer`
command that create, seed and download torrents through the topology's tracker."""
