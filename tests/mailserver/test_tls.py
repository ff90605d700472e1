"""The mail server's certificate: the configured one, or one made once from a CA of its own."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509

from mailserver import tls
from mailserver.config import MailConfig
from minternet import pki

NOW = datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)


def cfg(tmp_path: Path, **kw: object) -> MailConfig:
    base: dict[str, object] = {
        "hostname": "mail.crepes.fr",
        "domains": ("crepes.fr",),
        "address": "127.0.0.40",
        "state_dir": str(tmp_path / "state"),
        "listen": {"imap": 143, "pop3s": "127.0.0.41:995"},
    }
    base.update(kw)
    return MailConfig(**base)  # type: ignore[arg-type]


def names(path: Path) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sans.get_values_for_type(x509.DNSName), [
        str(a) for a in sans.get_values_for_type(x509.IPAddress)
    ]


def test_a_configured_certificate_is_used_as_it_is(tmp_path):
    c = cfg(tmp_path, tls_cert="/etc/c.pem", tls_key="/etc/k.pem")
    assert tls.server_certificate(c) == pki.Issued(Path("/etc/c.pem"), Path("/etc/k.pem"))
    assert not (tmp_path / "state").exists()


def test_without_one_a_ca_and_a_certificate_are_made_once_and_kept(tmp_path):
    c = cfg(tmp_path)
    issued = tls.server_certificate(c, NOW)
    folder = tmp_path / "state" / "tls"
    assert issued == pki.Issued(folder / "mail.crepes.fr.pem", folder / "mail.crepes.fr.key")
    assert names(issued.cert) == (["mail.crepes.fr"], ["127.0.0.40", "127.0.0.41"])
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    x509.load_pem_x509_certificate(issued.cert.read_bytes()).verify_directly_issued_by(ca)
    pki.server_context(issued)  # the key goes with the certificate
    before = issued.cert.read_bytes()
    assert tls.server_certificate(c, NOW + datetime.timedelta(days=300)) == issued
    assert issued.cert.read_bytes() == before  # kept


def test_it_is_made_again_near_its_end_or_when_the_names_change(tmp_path):
    c = cfg(tmp_path)
    issued = tls.server_certificate(c, NOW)
    first = issued.cert.read_bytes()
    tls.server_certificate(c, NOW + datetime.timedelta(days=336))  # 29 days before its end
    second = issued.cert.read_bytes()
    assert second != first
    moved = cfg(tmp_path, address="127.0.0.42", listen={"imap": 143})
    tls.server_certificate(moved, NOW + datetime.timedelta(days=336))
    assert names(issued.cert) == (["mail.crepes.fr"], ["127.0.0.42"])


def test_a_missing_key_or_an_unreadable_certificate_is_replaced(tmp_path):
    c = cfg(tmp_path)
    issued = tls.server_certificate(c, NOW)
    issued.key.unlink()
    again = tls.server_certificate(c, NOW)
    assert again.key.exists()
    again.cert.write_text("not a certificate")
    tls.server_certificate(c, NOW)
    assert names(again.cert)[0] == ["mail.crepes.fr"]
    assert ipaddress.ip_address(names(again.cert)[1][0]).is_loopback
