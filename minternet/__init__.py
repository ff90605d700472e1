"""minternet: a miniature Internet application layer (DNS, mail, BitTorrent) on loopback."""

from importlib import metadata

try:
    __version__ = metadata.version("minternet")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
