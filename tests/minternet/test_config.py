"""Config loading: TOML into frozen dataclasses, unknown keys named in the error."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from minternet.config import ConfigError, from_dict, load


@dataclass(frozen=True)
class Limits:
    max_connections: int = 100
    idle_timeout: float = 10.0


@dataclass(frozen=True)
class Server:
    listen: tuple[str, ...] = ()
    name: str = "dns"
    limits: Limits = field(default_factory=Limits)
    rrl_rate: int | None = None


def test_loads_nested_tables_and_lists(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'listen = ["127.0.0.1:53", "[::1]:53"]\nrrl_rate = 5\n[limits]\nidle_timeout = 3\n'
    )
    cfg = load(path, Server)
    assert cfg.listen == ("127.0.0.1:53", "[::1]:53")
    assert cfg.limits == Limits(max_connections=100, idle_timeout=3.0)
    assert cfg.rrl_rate == 5


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[limits]\nmax_conections = 3\n")
    with pytest.raises(ConfigError, match="unknown key 'max_conections'") as e:
        load(path, Server)
    assert "limits" in str(e.value)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"name": 3}, "name"),
        ({"limits": {"max_connections": True}}, "max_connections"),
        ({"listen": "127.0.0.1:53"}, "listen"),
        ({"limits": 5}, "limits"),
    ],
)
def test_wrong_types_are_errors_naming_the_key(data, where):
    with pytest.raises(ConfigError, match=where):
        from_dict(Server, data)


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load(bad, Server)
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml", Server)
