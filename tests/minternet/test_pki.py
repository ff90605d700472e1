"""The miniature Internet's CA: made once, reused, and certificates real TLS clients verify."""

from __future__ import annotations

import asyncio
import datetime
import ssl
import stat
from pathlib import Path

import pytest

from minternet import pki


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> pki.CertificateAuthority:
    return pki.CertificateAuthority.ensure(tmp_path_factory.mktemp("tls"))


def test_the_ca_is_made_once_and_reused(ca: pki.CertificateAuthority) -> None:
    first = ca.cert_path.read_bytes()
    again = pki.CertificateAuthority.ensure(ca.directory)
    assert again.cert_path.read_bytes() == first
    assert stat.S_IMODE(ca.key_path.stat().st_mode) == 0o600


def test_a_ca_close_to_expiry_is_replaced(tmp_path: Path) -> None:
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=pki.CA_DAYS - 100)
    made = pki.CertificateAuthority.ensure(tmp_path, now=old)
    first = made.cert_path.read_bytes()
    assert pki.CertificateAuthority.ensure(tmp_path).cert_path.read_bytes() != first


async def serve_once(issued: pki.Issued) -> tuple[asyncio.Server, int]:
    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hello, "127.0.0.1", 0, ssl=pki.server_context(issued))
    return server, server.sockets[0].getsockname()[1]


async def test_a_client_trusting_the_ca_verifies_the_host_by_name_and_address(
    ca: pki.CertificateAuthority,
) -> None:
    issued = ca.issue("mail-crepes", ["mail.crepes.fr.", "smtp.crepes.fr"], ["127.0.0.1"])
    assert stat.S_IMODE(issued.key.stat().st_mode) == 0o600
    server, port = await serve_once(issued)
    client = pki.client_context(ca.cert_path)
    try:
        for name in ("mail.crepes.fr", "smtp.crepes.fr", "127.0.0.1"):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname=name
            )
            assert await reader.readline() == b"hello\n"
            writer.close()
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname="mail.hamburger.edu"
            )
        with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs do not know it
            await asyncio.open_connection(
                "127.0.0.1", port, ssl=pki.client_context(None), server_hostname="mail.crepes.fr"
            )
    finally:
        server.close()
        await server.wait_closed()


def test_a_certificate_needs_a_name(ca: pki.CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="at least one name or address"):
        ca.issue("nobody", [], [])
