"""The mail server's certificate: the configured one, or one made on first start.

`minternet up` gives every mail host a certificate from the miniature Internet's CA
(tls_cert/tls_key in its config). `mailserver serve` by hand without them makes, once, a CA
of its own in state_dir/tls (minternet/pki.py, the `cryptography` package) and a certificate
from it for the server's hostname and listening addresses: a client that trusts that
`ca.pem` verifies the server, and one that does not sees a single certificate to accept. It is
kept and reused until it nears its end or the names change.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509

from mailserver.config import MailConfig
from minternet import pki

RENEW_BEFORE = datetime.timedelta(days=30)


def _names(cfg: MailConfig) -> tuple[list[str], list[str]]:
    addresses = sorted({host for host, _ in cfg.endpoints().values()} | {cfg.address})
    return [cfg.hostname], addresses


def _still_good(path: Path, names: list[str], addresses: list[str], now: datetime.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    has = set(sans.get_values_for_type(x509.DNSName)), set(sans.get_values_for_type(x509.IPAddress))
    wanted = set(names), {ipaddress.ip_address(a) for a in addresses}
    return has == wanted and cert.not_valid_after_utc - RENEW_BEFORE > now


def server_certificate(cfg: MailConfig, now: datetime.datetime | None = None) -> pki.Issued:
    """The certificate and key files to serve TLS with; made (or renewed) when not configured."""
    if cfg.tls_cert:
        return pki.Issued(Path(cfg.tls_cert), Path(cfg.tls_key))
    now = now or datetime.datetime.now(datetime.UTC)
    directory = cfg.paths().tls
    names, addresses = _names(cfg)
    stem = cfg.hostname
    issued = pki.Issued(directory / f"{stem}.pem", directory / f"{stem}.key")
    if issued.key.exists() and _still_good(issued.cert, names, addresses, now):
        return issued
    ca = pki.CertificateAuthority.ensure(directory, now)
    return ca.issue(stem, names, addresses, now)
