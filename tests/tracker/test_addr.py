"""Packed peer addresses: the text of an address to packed bytes and back."""

from __future__ import annotations

import pytest

from tracker.addr import pack_ip, parse_ip_param, unpack
from tracker.errors import RequestError


def test_addresses_pack_and_unpack() -> None:
    assert pack_ip("10.0.0.1") == bytes([10, 0, 0, 1])
    assert pack_ip("::ffff:10.0.0.1") == bytes([10, 0, 0, 1])  # IPv4-mapped: IPv4
    assert pack_ip("2001:db8::1") == bytes.fromhex("20010db8000000000000000000000001")
    assert unpack(bytes([10, 0, 0, 1, 0x1A, 0xE1])) == ("10.0.0.1", 6881)
    assert unpack(bytes.fromhex("20010db8000000000000000000000001") + b"\xc9\x0d") == (
        "2001:db8::1",
        51469,
    )


@pytest.mark.parametrize("text", ["", "10.0.0.256", "2001:db8::1::2", "host", "::g"])
def test_an_address_that_is_not_one_is_an_invalid_ip(text: str) -> None:
    with pytest.raises(RequestError, match=r"^invalid ip$"):
        pack_ip(text)


@pytest.mark.parametrize("value", [b"", b"10.0.0", b"1.2.3.4 ", b"\xff", b"::g"])
def test_an_ip_parameter_that_is_not_an_address_is_an_invalid_ip(value: bytes) -> None:
    with pytest.raises(RequestError, match=r"^invalid ip$"):
        parse_ip_param(value)
