"""A message's structure from its raw bytes: header fields, ENVELOPE, BODY/BODYSTRUCTURE,
BODY[section]<partial>, SEARCH text and the SORT/THREAD keys, sans-I/O (bytes in, values out).

    msg = Message(raw)
    msg.envelope(); msg.bodystructure(); msg.section(parse_section(b"1.MIME"), 0, 100)
    msg.binary((2,))  # BINARY[2]: base64 and quoted-printable decoded
    msg.header_matches(b"subject", "hello"); msg.body_matches("text")
    summarize(msg).to_bytes()  # what the store caches; store_summary(raw) gives its index row
"""

from mailserver.message.binary import UnknownEncoding
from mailserver.message.errors import MessageError, SectionError
from mailserver.message.message import Message
from mailserver.message.section import Section, parse_section
from mailserver.message.structure import DEFAULT_LIMITS, Limits, Part
from mailserver.message.summary import Summary, store_summary, summarize

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Message",
    "MessageError",
    "Part",
    "Section",
    "SectionError",
    "Summary",
    "UnknownEncoding",
    "parse_section",
    "store_summary",
    "summarize",
]
