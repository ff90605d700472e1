"""The Date: header as a datetime (RFC 5322 §3.3, with the obsolete forms), for SENT* and SORT.

Parsing is the stdlib's `email.utils.parsedate_tz`, which reads the RFC 5322 form and its
obsolete and common broken variants (two-digit years, missing seconds or weekday, named zones).
A date it cannot read, or that is out of range, is None (RFC 3501 SENT* then never match, and
SORT uses the internal date, RFC 5256 §3).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import parsedate_tz

_BYTES_AS_TEXT = "latin-1"  # every byte a character: 8-bit garbage cannot fail to decode
MAX_LENGTH = 200  # longer is not a date (the longest valid one is about 80 octets)


def parse_date(value: bytes | None) -> datetime | None:
    """An aware datetime in the zone the header gives (UTC for -0000 or none), or None.

    `.astimezone(UTC)` is the instant (SORT DATE); `.date()` is the date as written, which is
    what SENTBEFORE, SENTON and SENTSINCE compare, "disregarding time and timezone" (RFC 3501).
    """
    if value is None or len(value) > MAX_LENGTH:
        return None
    try:
        fields = parsedate_tz(value.decode(_BYTES_AS_TEXT))
        if fields is None:
            return None
        year, month, day, hour, minute, second = fields[:6]
        zone = timezone(timedelta(seconds=fields[9] or 0))  # +0000: the UTC singleton
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=zone)
    except (ValueError, OverflowError, TypeError, IndexError):
        return None
