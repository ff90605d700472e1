"""MailContext: the login rule (failure delay, per-address failure budget on an injected clock),
per-user session counts, the Notifier, and the worker pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailserver.aio import context
from mailserver.aio.context import MailContext, Notifier
from mailserver.config import Auth, Limits, MailConfig
from mailserver.store import Store
from mailserver.users import ScryptParams, UserDb

FAST = ScryptParams(ln=4, r=1, p=1)
DELAY = 0.05


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(tmp_path: Path, clock: Clock) -> Iterator[MailContext]:
    cfg = MailConfig(
        hostname="mail.crepes.fr",
        domains=("crepes.fr",),
        state_dir=str(tmp_path),
        limits=Limits(max_connections_per_user=2),
        auth=Auth(failure_delay=DELAY, failure_rate=0.1, failure_burst=2),
    )
    users = UserDb(tmp_path / "users", params=FAST)
    users.add("alice@crepes.fr", b"alice-in-paris")
    store = Store(str(tmp_path / "mail"))
    context = MailContext(cfg, store, users, tls=None, threads=2, clock=clock)  # type: ignore[arg-type]
    yield context
    context.close()
    store.close()


async def timed(coro: object) -> tuple[object, float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await coro  # type: ignore[misc]
    return result, loop.time() - start


async def test_login_ok_gives_the_normalised_address_at_once(ctx: MailContext) -> None:
    address, took = await timed(
        ctx.login("alice@CREPES.fr", b"alice-in-paris", "127.0.0.9", "imap")
    )
    assert address == "alice@crepes.fr"
    assert took < DELAY
    assert (ctx.counters.logins, ctx.counters.login_failures) == (1, 0)
    assert ctx.counters.by_protocol == {"imap": 1}


async def test_a_wrong_password_and_an_unknown_user_fail_alike_after_the_delay(
    ctx: MailContext,
) -> None:
    for user in ("alice@crepes.fr", "nobody@crepes.fr"):
        address, took = await timed(ctx.login(user, b"wrong", "127.0.0.9", "pop3"))
        assert address is None
        assert took >= DELAY
    assert (ctx.counters.logins, ctx.counters.login_failures) == (0, 2)
    assert ctx.counters.by_protocol == {}


async def test_past_its_failure_budget_a_client_is_refused_unchecked_until_it_refills(
    ctx: MailContext, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(2):  # failure_burst = 2
        assert await ctx.login("alice@crepes.fr", b"wrong", "127.0.0.9", "imap") is None
    # the right password now fails too, and is not even checked
    address, took = await timed(
        ctx.login("alice@crepes.fr", b"alice-in-paris", "127.0.0.9", "imap")
    )
    assert address is None and took >= DELAY
    assert caplog.messages[-1] == (
        "127.0.0.9 imap: login refused unchecked for 'alice@crepes.fr': too many failed "
        "logins from this address"
    )
    assert ctx.counters.logins_refused == 1
    assert ctx.counters.login_failures == 2
    # another client address has its own budget
    assert await ctx.login("alice@crepes.fr", b"alice-in-paris", "127.0.0.8", "imap") == (
        "alice@crepes.fr"
    )
    clock.now += 9.9  # 0.1 failures a second: one token after 10 s
    assert await ctx.login("alice@crepes.fr", b"alice-in-paris", "127.0.0.9", "imap") is None
    clock.now += 0.2
    assert await ctx.login("alice@crepes.fr", b"alice-in-paris", "127.0.0.9", "imap") == (
        "alice@crepes.fr"
    )


async def test_a_successful_login_costs_no_token(ctx: MailContext) -> None:
    for _ in range(5):
        assert await ctx.login("alice@crepes.fr", b"alice-in-paris", "127.0.0.9", "imap")
    assert await ctx.login("alice@crepes.fr", b"wrong", "127.0.0.9", "imap") is None
    assert await ctx.login("alice@crepes.fr", b"alice-in-paris", "127.0.0.9", "imap")
    assert ctx.counters.logins_refused == 0


def test_sessions_are_counted_per_user_up_to_the_limit(ctx: MailContext) -> None:
    assert ctx.acquire_session("alice@crepes.fr")
    assert ctx.acquire_session("alice@crepes.fr")
    assert not ctx.acquire_session("alice@crepes.fr")  # max_connections_per_user = 2
    assert ctx.counters.logins_refused == 1
    assert ctx.acquire_session("carol@crepes.fr")
    assert ctx.sessions("alice@crepes.fr") == 2
    assert ctx.session_counts() == {"alice@crepes.fr": 2, "carol@crepes.fr": 1}
    ctx.release_session("alice@crepes.fr")
    assert ctx.sessions("alice@crepes.fr") == 1
    assert ctx.acquire_session("alice@crepes.fr")
    ctx.release_session("carol@crepes.fr")
    ctx.release_session("carol@crepes.fr")  # one too many: stays at none
    assert ctx.sessions("carol@crepes.fr") == 0
    assert ctx.session_counts() == {"alice@crepes.fr": 2}


async def test_run_calls_in_a_worker_thread(ctx: MailContext) -> None:
    name = await ctx.run(lambda a, b: (threading.current_thread().name, a + b), 2, 3)
    assert name[0].startswith("mail") and name[1] == 5


async def test_user_store_is_the_stores_user(ctx: MailContext) -> None:
    store = await ctx.run(ctx.user_store, "alice@crepes.fr")
    assert store is ctx.store.user("alice@crepes.fr")


async def test_notifier_wakes_the_waiters_of_that_user_and_mailbox_only() -> None:
    n = Notifier()
    inbox = asyncio.ensure_future(n.wait("bob@x", "INBOX", 5.0))
    sent = asyncio.ensure_future(n.wait("bob@x", "Sent", 0.2))
    other = asyncio.ensure_future(n.wait("dave@x", "INBOX", 0.2))
    await asyncio.sleep(0)
    n.notify("bob@x", "INBOX")
    assert await asyncio.wait_for(inbox, 1.0) is True
    assert await sent is False
    assert await other is False
    assert n._waiters == {}  # nothing left behind


async def test_notifier_times_out_without_a_notice_and_a_notice_before_waiting_is_lost() -> None:
    n = Notifier()
    n.notify("bob@x", "INBOX")  # nobody waits: a hint only
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await n.wait("bob@x", "INBOX", 0.05) is False
    assert loop.time() - start >= 0.05


async def test_notifier_wakes_every_waiter_of_a_mailbox() -> None:
    n = Notifier()
    waiters = [asyncio.ensure_future(n.wait("bob@x", "INBOX", 5.0)) for _ in range(3)]
    await asyncio.sleep(0)
    n.notify("bob@x", "INBOX")
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1.0) == [True, True, True]


async def test_settle_later_runs_one_job_per_user_after_the_delay(
    ctx: MailContext, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[list[str]] = []
    ran = threading.Event()

    def settle(addresses: list[str]) -> None:
        calls.append(list(addresses))
        ran.set()
        if addresses == ["broken@crepes.fr"]:
            raise OSError("disk gone")

    monkeypatch.setattr(ctx.store, "settle", settle)
    ctx.settle_later(["alice@crepes.fr"])
    ctx.settle_later(["alice@crepes.fr", "bob@crepes.fr"])  # alice's job is already due
    assert calls == []  # not at once: after SETTLE_DELAY, with what came meanwhile
    await asyncio.sleep(context.SETTLE_DELAY * 3)
    assert sorted(calls) == [["alice@crepes.fr"], ["bob@crepes.fr"]]
    ctx.settle_later(["alice@crepes.fr"])  # due again once its job started
    ctx.settle_later(["broken@crepes.fr"])
    await asyncio.sleep(context.SETTLE_DELAY * 3)
    assert sorted(calls[2:]) == [["alice@crepes.fr"], ["broken@crepes.fr"]]
    assert "settling deliveries failed: disk gone" in caplog.text
    ctx.close()
    ctx.settle_later(["alice@crepes.fr"])  # after shutdown: left to Store.close
    await asyncio.sleep(context.SETTLE_DELAY * 3)
    assert len(calls) == 4
