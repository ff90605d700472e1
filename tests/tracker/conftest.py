"""Helpers shared by the tracker tests: announce query strings built from raw bytes."""

from __future__ import annotations

import random

import pytest

from tracker.config import TrackerConfig
from tracker.http_app import TrackerApp
from tracker.registry import Registry

IH = bytes.fromhex("0123456789abcdef0123456789abcdef01234567")


def enc(b: bytes) -> str:
    return "".join(f"%{x:02X}" for x in b)


def pid(n: int) -> bytes:
    return b"-TE0001-%012d" % n


def announce_query(
    info_hash: bytes = IH,
    peer_id: bytes = b"-TE0001-000000000001",
    port: int = 6881,
    left: int = 100,
    **extra: object,
) -> str:
    q = f"info_hash={enc(info_hash)}&peer_id={enc(peer_id)}&port={port}"
    q += f"&uploaded=0&downloaded=0&left={left}"
    for k, v in extra.items():
        q += f"&{k}={v}"
    return q


def make_app(**config: object) -> TrackerApp:
    cfg = TrackerConfig(**{"rate_per_ip": 0.0, **config})  # type: ignore[arg-type]
    whitelist = config.get("_whitelist")
    return TrackerApp(Registry(cfg, random.Random(7), whitelist))  # type: ignore[arg-type]


@pytest.fixture
def app() -> TrackerApp:
    return make_app()
