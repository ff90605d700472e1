"""The base subject of RFC 5256 §2.1, for SORT SUBJECT and THREAD ORDEREDSUBJECT/REFERENCES."""

from __future__ import annotations

import re

from mailserver.message.words import decode_words

_WSP = re.compile(r"[ \t\r\n]+")
_TRAILER = re.compile(r"(?:\(fwd\)| )\Z", re.IGNORECASE)
_BLOB = r"\[[^\[\]]*\] *"
_LEADER = re.compile(rf"(?:(?:{_BLOB})*(?:re|fwd?) *(?:{_BLOB})?:| +)", re.IGNORECASE)
_BLOB_AT_START = re.compile(_BLOB)
_FWD_START = re.compile(r"\[fwd:", re.IGNORECASE)


def base_subject(raw: bytes | None) -> tuple[str, bool]:
    """(base subject, whether it was a reply or forward) of a Subject value.

    The base subject is not case-folded: comparing it is the comparator's job.
    """
    if raw is None:
        return "", False
    subject = _WSP.sub(" ", decode_words(raw))  # step 1
    reply = False
    while True:
        while True:  # step 2: trailers
            m = _TRAILER.search(subject)
            if m is None:
                break
            if m.group(0) != " ":
                reply = True
            subject = subject[: m.start()]
        while True:  # steps 3 to 5: leaders and blobs
            m = _LEADER.match(subject)
            if m is not None:  # never empty: it ends with a colon or is white space
                if m.group(0).strip():
                    reply = True
                subject = subject[m.end() :]
                continue
            blob = _BLOB_AT_START.match(subject)
            if blob is not None and subject[blob.end() :]:
                subject = subject[blob.end() :]
                continue
            break
        # step 6: "[fwd: ...]"
        if _FWD_START.match(subject) and subject.endswith("]"):
            subject = subject[5:-1]
            reply = True
            continue
        return subject, reply
