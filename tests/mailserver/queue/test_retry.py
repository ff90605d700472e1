"""The queued message's life: outcomes, backoff, giving up, notices, and the spool file."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.queue.retry import (
    Deferred,
    Delivered,
    Entry,
    Failed,
    Notice,
    Policy,
    QueueError,
    Recipient,
    Report,
    Step,
    after_attempt,
    backoff,
    from_json,
    to_json,
)

T0 = 1_800_000_000.0
POLICY = Policy()
BOB, CAROL, DAVE = "bob@hamburger.edu", "carol@hamburger.edu", "dave@example.org"


def entry(*rcpts: str, sender: str = "alice@crepes.fr", **kw: object) -> Entry:
    fields: dict[str, object] = {"next_attempt": T0, **kw}
    return Entry(
        id="A1B2C3",
        sender=sender,
        arrival=T0,
        recipients=tuple(Recipient(r) for r in rcpts),
        **fields,  # type: ignore[arg-type]
    )


def test_backoff_doubles_from_five_minutes_up_to_an_hour() -> None:
    assert [backoff(POLICY, n) for n in range(1, 8)] == [300, 600, 1200, 2400, 3600, 3600, 3600]
    assert backoff(Policy(first_retry=1, max_backoff=5), 3) == 4
    assert backoff(POLICY, 0) == 300
    assert backoff(POLICY, 10**6) == 3600  # no overflow for a huge count


def test_all_delivered_removes_the_entry_and_owes_nothing() -> None:
    step = after_attempt(
        entry(BOB, CAROL),
        [Delivered(BOB, "mail.hamburger.edu", "250 ok"), Delivered(CAROL, "m", "250 ok")],
        T0 + 1,
        POLICY,
    )
    assert step == Step(None, (), (BOB, CAROL), ())


def test_a_deferred_recipient_stays_with_its_error_and_a_later_attempt() -> None:
    step = after_attempt(
        entry(BOB, CAROL),
        [
            Delivered(BOB, "mail.hamburger.edu", "250 ok"),
            Deferred(
                CAROL,
                "4.3.0",
                "mail.hamburger.edu[127.0.0.3]: 451 4.3.0 later",
                "mail.hamburger.edu",
            ),
        ],
        T0 + 10,
        POLICY,
    )
    assert step.delivered == (BOB,) and step.failed == () and step.notices == ()
    assert step.entry == Entry(
        id="A1B2C3",
        sender="alice@crepes.fr",
        arrival=T0,
        recipients=(
            Recipient(
                CAROL,
                "4.3.0",
                "mail.hamburger.edu[127.0.0.3]: 451 4.3.0 later",
                "mail.hamburger.edu",
            ),
        ),
        next_attempt=T0 + 310,
        attempts=1,
    )


def test_a_failed_recipient_goes_into_one_failed_notice() -> None:
    step = after_attempt(
        entry(BOB, CAROL, DAVE),
        [
            Failed(
                BOB,
                "5.1.1",
                "mail.hamburger.edu[127.0.0.3]: 550 5.1.1 no such user",
                "mail.hamburger.edu",
            ),
            Failed(DAVE, "5.1.2", "example.org: no such domain (NXDOMAIN)"),
            Delivered(CAROL, "mail.hamburger.edu", "250 ok"),
        ],
        T0 + 5,
        POLICY,
    )
    failed = (
        Report(
            BOB,
            "5.1.1",
            "mail.hamburger.edu[127.0.0.3]: 550 5.1.1 no such user",
            "mail.hamburger.edu",
        ),
        Report(DAVE, "5.1.2", "example.org: no such domain (NXDOMAIN)", None),
    )
    assert step == Step(None, (Notice("failed", failed),), (CAROL,), failed)


def test_a_recipient_not_tried_stays_as_it_was() -> None:
    before = entry(BOB, CAROL)
    step = after_attempt(before, [Delivered(BOB, "m", "250")], T0 + 1, POLICY)
    assert step.entry is not None and step.entry.recipients == (Recipient(CAROL),)
    assert step.entry.attempts == 1 and step.entry.next_attempt == T0 + 301


def test_outcomes_for_unknown_addresses_are_ignored_and_the_last_one_wins() -> None:
    step = after_attempt(
        entry(BOB),
        [Failed("eve@x", "5.0.0", "x"), Deferred(BOB, "4.0.0", "a"), Delivered(BOB, "m", "250")],
        T0,
        POLICY,
    )
    assert step == Step(None, (), (BOB,), ())


def test_the_queue_gives_up_after_five_days_with_5_4_7_and_the_last_error() -> None:
    old = entry(BOB, CAROL, attempts=40)
    old = Entry(
        id=old.id,
        sender=old.sender,
        arrival=T0,
        recipients=(Recipient(BOB, "4.4.1", "connection refused", None), Recipient(CAROL)),
        next_attempt=T0,
        attempts=40,
        warned=True,
    )
    step = after_attempt(
        old, [Deferred(BOB, "4.4.1", "connection refused")], T0 + 5 * 86400, POLICY
    )
    failed = (
        Report(BOB, "5.4.7", "gave up after 5 days in the queue: connection refused", None),
        Report(CAROL, "5.4.7", "gave up after 5 days in the queue: never tried", None),
    )
    assert step == Step(None, (Notice("failed", failed),), (), failed)
    # a second before that, it is still kept, due no later than the give-up time
    kept = after_attempt(old, [], T0 + 5 * 86400 - 1, POLICY).entry
    assert kept is not None and kept.next_attempt == T0 + 5 * 86400


def test_one_delay_warning_after_four_hours() -> None:
    e = entry(BOB)
    early = after_attempt(e, [Deferred(BOB, "4.4.1", "refused")], T0 + 4 * 3600 - 1, POLICY)
    assert early.notices == () and early.entry is not None and not early.entry.warned
    late = after_attempt(e, [Deferred(BOB, "4.4.1", "refused")], T0 + 4 * 3600, POLICY)
    assert late.notices == (Notice("delayed", (Report(BOB, "4.4.1", "refused", None),)),)
    assert late.entry is not None and late.entry.warned
    again = after_attempt(late.entry, [Deferred(BOB, "4.4.1", "refused")], T0 + 5 * 3600, POLICY)
    assert again.notices == ()
    never = after_attempt(e, [], T0 + 86400, Policy(warn_after=None))
    assert never.notices == ()
    untried = after_attempt(e, [], T0 + 4 * 3600, POLICY)
    assert untried.notices == (Notice("delayed", (Report(BOB, "4.0.0", "not yet tried", None),)),)


def test_a_notice_never_causes_a_notice() -> None:
    bounce = entry(BOB, sender="")
    failed = after_attempt(bounce, [Failed(BOB, "5.1.1", "no such user")], T0, POLICY)
    assert failed == Step(None, (), (), (Report(BOB, "5.1.1", "no such user", None),))
    late = after_attempt(bounce, [Deferred(BOB, "4.4.1", "refused")], T0 + 86400, POLICY)
    assert late.notices == () and late.entry is not None and not late.entry.warned


@given(
    st.lists(st.sampled_from(["delivered", "deferred", "failed", None]), min_size=1, max_size=6),
    st.floats(0, 10 * 86400),
    st.integers(0, 60),
)
def test_every_recipient_ends_exactly_once(
    kinds: list[str | None], waited: float, tries: int
) -> None:
    rcpts = [f"r{i}@x" for i in range(len(kinds))]
    e = Entry("ID1", "s@x", T0, tuple(Recipient(r) for r in rcpts), T0, attempts=tries)
    outcomes: list[Delivered | Deferred | Failed] = []
    for r, k in zip(rcpts, kinds, strict=True):
        if k == "delivered":
            outcomes.append(Delivered(r, "m", "250"))
        elif k == "deferred":
            outcomes.append(Deferred(r, "4.0.0", "later"))
        elif k == "failed":
            outcomes.append(Failed(r, "5.0.0", "no"))
    step = after_attempt(e, outcomes, T0 + waited, POLICY)
    left = [r.address for r in step.entry.recipients] if step.entry else []
    ends = [*step.delivered, *(f.address for f in step.failed), *left]
    assert sorted(ends) == sorted(rcpts)
    if step.entry is not None:
        assert step.entry.attempts == tries + 1
        assert T0 + waited < step.entry.next_attempt <= T0 + 5 * 86400
        assert step.entry.next_attempt <= T0 + waited + 3600


# -- the spool file ----------------------------------------------------------------------------


SAMPLE = Entry(
    id="0F1E2D",
    sender="alice@crêpes.fr",
    arrival=T0 + 0.25,
    recipients=(
        Recipient(BOB, "4.4.1", "connection refused", "mail.hamburger.edu"),
        Recipient(CAROL),
    ),
    next_attempt=T0 + 300,
    attempts=2,
    warned=True,
)


def test_an_entry_round_trips_through_its_spool_file() -> None:
    e = SAMPLE
    data = to_json(e)
    assert "crêpes".encode() in data  # UTF-8 as it is, not \\u escapes
    assert from_json(data) == e
    assert json.loads(data)["format"] == 1


def good() -> dict[str, object]:
    return json.loads(to_json(entry(BOB)))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"format": 2}, r"^spool entry: not an entry of format 1$"),
        ({"id": "a/b"}, r"^spool entry: bad id 'a/b'$"),
        ({"id": ""}, r"^spool entry: bad id ''$"),
        ({"id": "é1"}, r"^spool entry: bad id 'é1'$"),
        ({"sender": None}, r"^spool entry: sender is missing or not a str$"),
        ({"arrival": "now"}, r"^spool entry: arrival is missing or not a int or float$"),
        ({"arrival": True}, r"^spool entry: arrival is missing or not a int or float$"),
        ({"next_attempt": float("inf")}, r"^spool entry: a time that is not a finite number$"),
        ({"attempts": 1.5}, r"^spool entry: attempts is missing or not a int$"),
        ({"attempts": -1}, r"^spool entry: a negative number of attempts$"),
        ({"warned": 1}, r"^spool entry: warned is missing or not a bool$"),
        ({"recipients": []}, r"^spool entry: 1 to 1000 recipients, not 0$"),
        (
            {"recipients": [{"address": "b@x"}] * 1001},
            r"^spool entry: 1 to 1000 recipients, not 1001$",
        ),
        ({"recipients": ["b@x"]}, r"^spool entry: a recipient is not an object$"),
        ({"recipients": [{"address": 5}]}, r"^spool entry: address is missing or not a str$"),
        (
            {"recipients": [{"address": "b@x", "status": None, "error": 3, "remote": None}]},
            r"^spool entry: error is missing or not a str or null$",
        ),
        (
            {
                "recipients": [
                    {"address": "b@x" + "x" * 2000, "status": None, "error": None, "remote": None}
                ]
            },
            r"^spool entry: address is longer than 2000 octets$",
        ),
    ],
)
def test_a_damaged_spool_file_is_refused(change: dict[str, object], error: str) -> None:
    obj = {**good(), **change}
    with pytest.raises(QueueError, match=error):
        from_json(json.dumps(obj).encode())


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff", r"^spool entry: not JSON "),
        (b"{", r"^spool entry: not JSON "),
        (b"[1]", r"^spool entry: not an entry of format 1$"),
        (b"[" * 100_000, r"^spool entry: not JSON "),
    ],
)
def test_what_is_not_json_is_refused(data: bytes, error: str) -> None:
    with pytest.raises(QueueError, match=error):
        from_json(data)


def test_a_status_and_remote_may_be_absent_or_null() -> None:
    obj = good()
    obj["recipients"] = [{"address": BOB, "status": None, "error": None, "remote": None}]
    assert from_json(json.dumps(obj).encode()).recipients == (Recipient(BOB),)
    obj["recipients"] = [{"address": BOB, "status": "4.0.0", "error": "e", "remote": "r"}]
    assert from_json(json.dumps(obj).encode()).recipients == (Recipient(BOB, "4.0.0", "e", "r"),)


def test_the_doubling_stops_after_32_doublings_whatever_the_maximum() -> None:
    endless = Policy(first_retry=1.0, max_backoff=math.inf)
    assert backoff(endless, 33) == 2.0**32
    assert backoff(endless, 34) == 2.0**32
    assert backoff(endless, 10**6) == 2.0**32


def test_the_remote_host_stays_in_a_delay_warning_and_in_giving_up() -> None:
    mx = "mail.hamburger.edu"
    e = entry(BOB)
    late = after_attempt(e, [Deferred(BOB, "4.3.0", "451 4.3.0 later", mx)], T0 + 4 * 3600, POLICY)
    assert late.notices == (Notice("delayed", (Report(BOB, "4.3.0", "451 4.3.0 later", mx),)),)
    assert late.entry is not None
    step = after_attempt(late.entry, [], T0 + 5 * 86400, POLICY)
    why = "gave up after 5 days in the queue: 451 4.3.0 later"
    assert step.failed == (Report(BOB, "5.4.7", why, mx),)
    assert step.notices == (Notice("failed", step.failed),)


def test_the_spool_file_golden() -> None:
    e = SAMPLE
    assert to_json(e) == (
        b'{"arrival": 1800000000.25, "attempts": 2, "format": 1, "id": "0F1E2D", '
        b'"next_attempt": 1800000300.0, "recipients": [{"address": "bob@hamburger.edu", '
        b'"error": "connection refused", "remote": "mail.hamburger.edu", "status": "4.4.1"}, '
        b'{"address": "carol@hamburger.edu", "error": null, "remote": null, "status": null}], '
        b'"sender": "alice@cr\xc3\xaapes.fr", "warned": true}'
    )


def test_the_bounds_of_a_spool_file_are_inclusive() -> None:
    obj = good()
    obj["recipients"] = [{"address": f"r{i}@x"} for i in range(1000)]
    assert len(from_json(json.dumps(obj).encode()).recipients) == 1000
    obj["recipients"] = [{"address": "é@" + "x" * 1997}]  # 2000 octets, 1999 characters
    assert from_json(json.dumps(obj).encode()).recipients[0].address == "é@" + "x" * 1997
    obj["recipients"] = [{"address": "é@" + "x" * 1998}]
    with pytest.raises(QueueError, match=r"^spool entry: address is longer than 2000 octets$"):
        from_json(json.dumps(obj).encode())


def test_times_may_be_written_as_integers() -> None:
    obj = {**good(), "arrival": 1_800_000_000, "next_attempt": 1_800_000_300}
    e = from_json(json.dumps(obj).encode())
    assert (e.arrival, e.next_attempt) == (T0, T0 + 300)
    assert type(e.arrival) is float and type(e.next_attempt) is float
    obj["next_attempt"] = None
    with pytest.raises(
        QueueError, match=r"^spool entry: next_attempt is missing or not a int or float$"
    ):
        from_json(json.dumps(obj).encode())
