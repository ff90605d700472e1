"""StoreDelivery, the MX's and submission's way into the store: SMTP transactions that arrive
while a store call is under way go into the next one together (one index commit for all),
each sender is answered only once its own copies are durable, and a gathered call that fails
is tried again transaction by transaction, so that one bad delivery fails only its sender."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from mailserver.aio.context import MailContext
from mailserver.aio.server import StoreDelivery
from mailserver.config import MailConfig
from mailserver.store import Delivery, Store
from mailserver.users import ScryptParams, UserDb

ALICE, CAROL = "alice@crepes.fr", "carol@crepes.fr"
MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[MailContext]:
    cfg = MailConfig(hostname="mail.crepes.fr", domains=("crepes.fr",), state_dir=str(tmp_path))
    users = UserDb(tmp_path / "users", params=ScryptParams(ln=4, r=1, p=1))
    store = Store(str(tmp_path / "mail"))
    context = MailContext(cfg, store, users, tls=None, threads=2)  # type: ignore[arg-type]
    yield context
    context.close()
    store.close()


class Recorder:
    """The store's deliver_batch, recording the addresses of each call; the first call waits
    for `gate`, and a call holding an address in `bad` fails."""

    def __init__(self, real: Callable[[Sequence[Delivery]], list[int]]) -> None:
        self.real = real
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.bad: set[str] = set()

    def __call__(self, deliveries: Sequence[Delivery]) -> list[int]:
        self.calls.append([d.address for d in deliveries])
        if len(self.calls) == 1:
            self.gate.wait(10)
        if self.bad & {d.address for d in deliveries}:
            raise OSError("disk on fire")
        return self.real(deliveries)


@pytest.fixture
def recorder(ctx: MailContext, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder(ctx.store.deliver_batch)
    monkeypatch.setattr(ctx.store, "deliver_batch", rec)
    return rec


def send(delivery: StoreDelivery, *recipients: str) -> asyncio.Future[None]:
    return asyncio.ensure_future(
        delivery.deliver(
            list(recipients), MESSAGE, envelope_from="a@x.test", received_header=b"Received: x\r\n"
        )
    )


async def one_under_way(
    ctx: MailContext, recorder: Recorder
) -> tuple[StoreDelivery, asyncio.Future[None]]:
    """A StoreDelivery whose first transaction (to Alice) is in the store, held at the gate."""
    delivery = StoreDelivery(ctx)
    first = send(delivery, ALICE)
    for _ in range(500):
        if recorder.calls:
            return delivery, first
        await asyncio.sleep(0.01)
    raise AssertionError("the store was never called")


def inbox(ctx: MailContext, address: str) -> int:
    return len(ctx.store.user(address).uids("INBOX"))


async def test_transactions_that_wait_go_into_the_store_together(
    ctx: MailContext, recorder: Recorder
) -> None:
    delivery, first = await one_under_way(ctx, recorder)
    second, third = send(delivery, ALICE, CAROL), send(delivery, CAROL)
    await asyncio.sleep(0.05)
    assert recorder.calls == [[ALICE]]  # the others wait for the call under way
    assert not (first.done() or second.done() or third.done())
    recorder.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second, third), 10)
    assert recorder.calls == [[ALICE], [ALICE, CAROL, CAROL]]
    assert (inbox(ctx, ALICE), inbox(ctx, CAROL)) == (2, 2)
    assert ctx.counters.deliveries == 4
    # and a delivery when nothing is under way goes at once, alone
    await asyncio.wait_for(send(delivery, CAROL), 10)
    assert recorder.calls[2:] == [[CAROL]]
    assert inbox(ctx, CAROL) == 3


async def test_a_failed_gathered_call_is_tried_again_one_transaction_at_a_time(
    ctx: MailContext, recorder: Recorder
) -> None:
    delivery, first = await one_under_way(ctx, recorder)
    recorder.bad.add(CAROL)
    good, bad = send(delivery, ALICE), send(delivery, CAROL)
    recorder.gate.set()
    await asyncio.wait_for(asyncio.wait([first, good, bad]), 10)
    assert recorder.calls == [[ALICE], [ALICE, CAROL], [ALICE], [CAROL]]
    assert first.result() is None and good.result() is None
    with pytest.raises(OSError, match="disk on fire"):
        bad.result()
    assert (inbox(ctx, ALICE), inbox(ctx, CAROL)) == (2, 0)
    assert ctx.counters.deliveries == 2


async def test_a_lone_transaction_that_fails_is_told_and_not_tried_again(
    ctx: MailContext, recorder: Recorder
) -> None:
    recorder.gate.set()
    recorder.bad.add(CAROL)
    delivery = StoreDelivery(ctx)
    with pytest.raises(OSError, match="disk on fire"):
        await asyncio.wait_for(send(delivery, ALICE, CAROL), 10)
    assert recorder.calls == [[ALICE, CAROL]]
    assert ctx.counters.deliveries == 0
    await asyncio.wait_for(send(delivery, ALICE), 10)  # the next one is stored as usual
    assert inbox(ctx, ALICE) == 1


async def test_stopped_storing_leaves_no_sender_waiting(
    ctx: MailContext, recorder: Recorder
) -> None:
    delivery, first = await one_under_way(ctx, recorder)
    waiting = send(delivery, CAROL)
    await asyncio.sleep(0)
    assert delivery._storing is not None
    delivery._storing.cancel()  # as when the server stops
    recorder.gate.set()
    await asyncio.wait_for(asyncio.wait([first, waiting]), 10)
    assert first.cancelled() and waiting.cancelled()
    assert recorder.calls == [[ALICE]]
