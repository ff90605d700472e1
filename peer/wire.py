"""The peer wire protocol (BEP 3, BEP 6, BEP 10) as values: `encode` and a sans-I/O `Decoder`.

A connection opens with a 68-byte handshake each way, then carries length-prefixed messages:
4 bytes big-endian, then (unless the length is zero: a keep-alive) one byte of message id and
the payload. Messages are frozen dataclasses; `encode(msg)` gives their bytes, and a `Decoder`
(h11-style: `feed(data)`, then `next_event()` until None) turns received bytes into the
peer's Handshake and then its messages.

The rules the decoder keeps, because every byte comes from a stranger:

- **The first byte decides.** A plain handshake starts with 19 (the length of "BitTorrent
  protocol"). Anything else is an encrypted MSE/PE handshake (aria2c opens with one: a
  random-looking key and padding) or not BitTorrent; it raises NotPlainHandshake as soon as
  that byte is fed, so the shell closes at once, and aria2c falls back to a plain handshake
  on its next attempt. A wrong protocol string is refused as soon as a byte of it differs.
- **Bounded memory.** A length prefix over `max_length` is refused on its 4 bytes alone,
  before anything is buffered for it; so is a wrong length for a fixed-size message (a `have`
  is 5 bytes, a `request` 13...) or a `piece` whose block is empty or over BLOCK, as soon as
  the id byte arrives. The buffer holds at most one message plus one read, if the shell takes
  every event before it feeds again. Consumed bytes are skipped with an offset and dropped on
  the next `feed` (`del buf[:n]` on a bytearray moves its start, it does not copy the rest),
  never by re-slicing a growing bytes object per message.
- **One error type.** Whatever the input, `next_event` returns an event, None (more bytes
  needed), or raises WireError whose `reason` names the message and the fault. It does not
  consume the offending bytes, so asking again raises the same error; the shell closes the
  connection. Messages with ids we do not know come back as Unknown (BEP 3: ignore them).
- **Split-blind.** The same bytes give the same events and the same error however they are cut
  into reads (a check never depends on how much of a message has arrived).

`Piece.block` is `bytes`, a copy of the block out of the receive buffer (1.5 microseconds for
16 KiB on this machine, where SHA-1 of the same block takes 10; decoding a stream of piece
messages fed in 64 KiB reads runs at about 2 GB/s, ten times libtorrent's loopback rate).
A view into the buffer would save that copy, but the buffer cannot grow while a view is alive
(`feed` would raise BufferError), and the block would change under the shell's feet when the
buffer is reused.

The Decoder also keeps minternet's framing contract (minternet/framing.py: `feed`,
`next_frame`, `pending`, `clear`; WireError is a FramingError), so a stream listener can drive
it directly. The handshake's info-hash and peer id are not checked here: which torrents we
serve, and who we are, are the shell's knowledge.

Sending: the shell writes `piece_header(index, begin, len(block))` and then the block itself
(`transport.writelines`), so a 16 KiB block read from disk is never joined into a new bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from minternet.framing import FramingError

PROTOCOL = b"BitTorrent protocol"
# <19><"BitTorrent protocol"><8 reserved bytes><20-byte info-hash><20-byte peer id> (BEP 3).
HANDSHAKE_LEN = 1 + len(PROTOCOL) + 8 + 20 + 20
_HEADER = bytes([len(PROTOCOL)]) + PROTOCOL

# The unit of transfer: every client requests 16 KiB blocks (the last block of the torrent may
# be shorter), so a piece message never needs to carry more.
BLOCK = 16 * 1024
# BEP 3 'peer messages': "All current implementations use 2^14 (16 kiB), and close connections
# which request an amount greater than that." We do the same, and never ask for more.
MAX_REQUEST = BLOCK
# An extended message (BEP 10) is the extended handshake (a small bencoded dictionary, a few
# hundred bytes in practice) or an extension's message, the largest common one being a
# ut_metadata block (BEP 9): 16 KiB of metadata after a short bencoded header.
MAX_EXTENDED = BLOCK + 1024

# Message ids: BEP 3 (0-8), BEP 5 (port), BEP 6 (13-17), BEP 10 (20).
_CHOKE, _UNCHOKE, _INTERESTED, _NOT_INTERESTED, _HAVE, _BITFIELD = 0, 1, 2, 3, 4, 5
_REQUEST, _PIECE, _CANCEL, _PORT = 6, 7, 8, 9
_SUGGEST, _HAVE_ALL, _HAVE_NONE, _REJECT, _ALLOWED_FAST = 13, 14, 15, 16, 17
_EXTENDED = 20

_U32 = struct.Struct(">I")
_PORT_NUMBER = struct.Struct(">H")
_BLOCK_REF = struct.Struct(">III")  # index, begin, length: request, cancel, reject
_PIECE_AT = struct.Struct(">II")  # index, begin
_INDEX_MESSAGE = struct.Struct(">IBI")  # length prefix, id, index
_BLOCK_MESSAGE = struct.Struct(">IBIII")  # length prefix, id, index, begin, length
_PIECE_HEADER = struct.Struct(">IBII")  # length prefix, id, index, begin
_HEAD = struct.Struct(">IB")  # length prefix, id: bitfield
_EXTENDED_HEAD = struct.Struct(">IBB")  # length prefix, id, extension id
_PORT_MESSAGE = struct.Struct(">IBH")  # length prefix, id, port


class WireError(FramingError):
    """The remote peer broke the wire protocol; `reason` says which message and how.

    The shell logs the reason and closes the connection (the download goes on with others).
    """


class NotPlainHandshake(WireError):
    """The first byte is not 19: an encrypted (MSE/PE) handshake, or not BitTorrent at all.

    Close at once without a word: aria2c retries with a plain handshake only after its
    encrypted attempt fails.
    """


# -- the handshake ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Handshake:
    """<19>"BitTorrent protocol"<reserved><info_hash><peer_id>; the reserved bits are BEP 4's."""

    reserved: bytes
    info_hash: bytes
    peer_id: bytes

    def __post_init__(self) -> None:
        if (len(self.reserved), len(self.info_hash), len(self.peer_id)) != (8, 20, 20):
            raise ValueError("a handshake has 8 reserved bytes, a 20-byte info-hash and peer id")

    @property
    def fast(self) -> bool:
        """The Fast Extension (BEP 6): reserved[7] & 0x04. It is on if both sides set it."""
        return bool(self.reserved[7] & 0x04)

    @property
    def extension_protocol(self) -> bool:
        """The extension protocol (BEP 10): reserved[5] & 0x10."""
        return bool(self.reserved[5] & 0x10)

    @property
    def dht(self) -> bool:
        """A DHT node (BEP 5): reserved[7] & 0x01; it will send a `port` message."""
        return bool(self.reserved[7] & 0x01)


def reserved_bits(
    *, fast: bool = False, extension_protocol: bool = False, dht: bool = False
) -> bytes:
    """The 8 reserved bytes of our handshake, announcing the extensions we speak."""
    # Bit 20 from the right is reserved[5] & 0x10; reserved[7] holds bits 0 to 7.
    flags = (1 << 20 if extension_protocol else 0) | (0x04 if fast else 0) | (0x01 if dht else 0)
    return flags.to_bytes(8)


def encode_handshake(handshake: Handshake) -> bytes:
    return _HEADER + handshake.reserved + handshake.info_hash + handshake.peer_id


# -- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A zero length prefix: nothing to say (sent after about two minutes of silence)."""


@dataclass(frozen=True, slots=True)
class Choke:
    """No data will be sent until `unchoke` (BEP 6: pending requests are rejected explicitly)."""


@dataclass(frozen=True, slots=True)
class Unchoke:
    """The sender will now serve requests."""


@dataclass(frozen=True, slots=True)
class Interested:
    """The sender wants pieces the receiver has."""


@dataclass(frozen=True, slots=True)
class NotInterested:
    """The receiver has nothing the sender lacks."""


@dataclass(frozen=True, slots=True)
class Have:
    """The sender now has piece `index` (hash checked)."""

    index: int


@dataclass(frozen=True, slots=True)
class BitfieldMsg:
    """The pieces the sender has, sent only right after the handshake; see peer/bitfield.py."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Request:
    """Please send `length` bytes of piece `index` from byte `begin` (1..MAX_REQUEST)."""

    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class Piece:
    """A block of piece `index` starting at byte `begin`; `block` is a copy (1..BLOCK bytes)."""

    index: int
    begin: int
    block: bytes


@dataclass(frozen=True, slots=True)
class Cancel:
    """Withdraw a request (endgame: the block came from another peer)."""

    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class Port:
    """The sender's DHT port (BEP 5)."""

    port: int


@dataclass(frozen=True, slots=True)
class Suggest:
    """BEP 6: "you might like to download this piece" (advisory)."""

    index: int


@dataclass(frozen=True, slots=True)
class HaveAll:
    """BEP 6: in place of a bitfield, the sender has every piece."""


@dataclass(frozen=True, slots=True)
class HaveNone:
    """BEP 6: in place of a bitfield, the sender has no piece."""


@dataclass(frozen=True, slots=True)
class Reject:
    """BEP 6: the request with this index, begin and length will not be served."""

    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class AllowedFast:
    """BEP 6: the sender will serve requests for piece `index` even while choking us."""

    index: int


@dataclass(frozen=True, slots=True)
class Extended:
    """BEP 10: extension message `ext_id` (0: the extended handshake), `payload` after it."""

    ext_id: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Unknown:
    """A message id we do not know, with `length` bytes of payload (skipped): ignore it."""

    msg_id: int
    length: int


Message = (
    KeepAlive
    | Choke
    | Unchoke
    | Interested
    | NotInterested
    | Have
    | BitfieldMsg
    | Request
    | Piece
    | Cancel
    | Port
    | Suggest
    | HaveAll
    | HaveNone
    | Reject
    | AllowedFast
    | Extended
)
Event = Handshake | Message | Unknown


# -- encoding ---------------------------------------------------------------------------------


# The messages without a payload: always the same bytes.
_BARE: dict[type, bytes] = {
    KeepAlive: _U32.pack(0),
    Choke: _HEAD.pack(1, _CHOKE),
    Unchoke: _HEAD.pack(1, _UNCHOKE),
    Interested: _HEAD.pack(1, _INTERESTED),
    NotInterested: _HEAD.pack(1, _NOT_INTERESTED),
    HaveAll: _HEAD.pack(1, _HAVE_ALL),
    HaveNone: _HEAD.pack(1, _HAVE_NONE),
}


def piece_header(index: int, begin: int, length: int) -> bytes:
    """The 13 bytes before a `length`-byte block in a piece message; the block follows as is."""
    if not 0 < length <= BLOCK:
        raise ValueError(f"a piece message carries 1 to {BLOCK} bytes, not {length}")
    try:
        return _PIECE_HEADER.pack(9 + length, _PIECE, index, begin)
    except struct.error:
        raise ValueError(f"piece index {index} or offset {begin} out of range") from None


def encode(msg: Message) -> bytes:
    """The wire bytes of `msg`. ValueError for values the protocol cannot carry (our fault).

    We never send what our own Decoder would refuse: a request over MAX_REQUEST or for nothing,
    a piece message over BLOCK or empty.
    """
    bare = _BARE.get(type(msg))
    if bare is not None:
        return bare
    try:
        match msg:
            case Request(index, begin, length):
                if not 0 < length <= MAX_REQUEST:
                    raise ValueError(f"a request asks for 1 to {MAX_REQUEST} bytes, not {length}")
                return _BLOCK_MESSAGE.pack(13, _REQUEST, index, begin, length)
            case Piece(index, begin, block):
                return piece_header(index, begin, len(block)) + block
            case Have(index):
                return _INDEX_MESSAGE.pack(5, _HAVE, index)
            case Cancel(index, begin, length):
                return _BLOCK_MESSAGE.pack(13, _CANCEL, index, begin, length)
            case Reject(index, begin, length):
                return _BLOCK_MESSAGE.pack(13, _REJECT, index, begin, length)
            case BitfieldMsg(data):
                return _HEAD.pack(1 + len(data), _BITFIELD) + data
            case Extended(ext_id, payload):
                return _EXTENDED_HEAD.pack(2 + len(payload), _EXTENDED, ext_id) + payload
            case Suggest(index):
                return _INDEX_MESSAGE.pack(5, _SUGGEST, index)
            case AllowedFast(index):
                return _INDEX_MESSAGE.pack(5, _ALLOWED_FAST, index)
            case Port(port):
                return _PORT_MESSAGE.pack(3, _PORT, port)
    except struct.error:
        raise ValueError(f"a {type(msg).__name__} field is out of range: {msg}") from None
    raise TypeError(f"not a message we send: {type(msg).__name__}")


# -- decoding ---------------------------------------------------------------------------------

# Messages of one size: their name (for errors) and their length (id byte included).
_FIXED: dict[int, tuple[str, int]] = {
    _CHOKE: ("choke", 1),
    _UNCHOKE: ("unchoke", 1),
    _INTERESTED: ("interested", 1),
    _NOT_INTERESTED: ("not interested", 1),
    _HAVE: ("have", 5),
    _REQUEST: ("request", 13),
    _CANCEL: ("cancel", 13),
    _PORT: ("port", 3),
    _SUGGEST: ("suggest piece", 5),
    _HAVE_ALL: ("have all", 1),
    _HAVE_NONE: ("have none", 1),
    _REJECT: ("reject request", 13),
    _ALLOWED_FAST: ("allowed fast", 5),
}


def _request(buf: bytearray, start: int, end: int) -> Request:
    index, begin, length = _BLOCK_REF.unpack_from(buf, start)
    if not 0 < length <= MAX_REQUEST:
        raise WireError(f"request for {length} bytes: must be 1 to {MAX_REQUEST} (BEP 3)")
    return Request(index, begin, length)


def _piece(buf: bytearray, start: int, end: int) -> Piece:
    index, begin = _PIECE_AT.unpack_from(buf, start)
    return Piece(index, begin, bytes(buf[start + 8 : end]))


# The parsers of whole messages, by id; each gets the payload's bounds in the buffer.
_PARSE: dict[int, Callable[[bytearray, int, int], Event]] = {
    _CHOKE: lambda buf, start, end: Choke(),
    _UNCHOKE: lambda buf, start, end: Unchoke(),
    _INTERESTED: lambda buf, start, end: Interested(),
    _NOT_INTERESTED: lambda buf, start, end: NotInterested(),
    _HAVE: lambda buf, start, end: Have(_U32.unpack_from(buf, start)[0]),
    _BITFIELD: lambda buf, start, end: BitfieldMsg(bytes(buf[start:end])),
    _REQUEST: _request,
    _PIECE: _piece,
    _CANCEL: lambda buf, start, end: Cancel(*_BLOCK_REF.unpack_from(buf, start)),
    _PORT: lambda buf, start, end: Port(_PORT_NUMBER.unpack_from(buf, start)[0]),
    _SUGGEST: lambda buf, start, end: Suggest(_U32.unpack_from(buf, start)[0]),
    _HAVE_ALL: lambda buf, start, end: HaveAll(),
    _HAVE_NONE: lambda buf, start, end: HaveNone(),
    _REJECT: lambda buf, start, end: Reject(*_BLOCK_REF.unpack_from(buf, start)),
    _ALLOWED_FAST: lambda buf, start, end: AllowedFast(_U32.unpack_from(buf, start)[0]),
    _EXTENDED: lambda buf, start, end: Extended(buf[start], bytes(buf[start + 1 : end])),
}


def _check_length(msg_id: int, length: int) -> None:
    """Refuse a message whose length (id byte included) its id does not allow."""
    fixed = _FIXED.get(msg_id)
    if fixed is not None:
        name, size = fixed
        if length != size:
            raise WireError(f"{name} message of length {length}: must be {size}")
    elif msg_id == _PIECE:
        if length <= 9:
            raise WireError(f"piece message of length {length} carries no block")
        if length > 9 + BLOCK:
            raise WireError(f"piece message with a {length - 9}-byte block: at most {BLOCK}")
    elif msg_id == _EXTENDED and length < 2:
        raise WireError("extended message without an extension id")


def message_limit(pieces: int, extended: int = MAX_EXTENDED) -> int:
    """The `max_length` for a torrent of `pieces` pieces: its bitfield, a piece message with a
    full block, or an extended message with `extended` bytes after its extension id."""
    return max(1 + (pieces + 7) // 8, 9 + BLOCK, 2 + extended)


class Decoder:
    """Bytes received on one connection in, its Handshake and then its messages out.

    `max_length` bounds a message's length prefix (`message_limit` computes it); the buffer
    never holds more than one message plus what one `feed` brought.
    """

    __slots__ = ("_buf", "_pos", "handshake", "max_length")

    def __init__(self, *, max_length: int) -> None:
        self.max_length = max_length
        self._buf = bytearray()
        self._pos = 0  # where the unconsumed bytes start in _buf
        self.handshake: Handshake | None = None  # the peer's, once decoded

    def feed(self, data: bytes) -> None:
        """Add received bytes; take every event (`next_event` until None) before feeding more."""
        buf = self._buf
        if self._pos:
            del buf[: self._pos]
            self._pos = 0
        buf += data

    def pending(self) -> int:
        """Bytes received and not yet decoded: a message (or handshake) begun, not finished."""
        return len(self._buf) - self._pos

    def clear(self) -> None:
        """Forget every byte received and not yet decoded."""
        self._buf.clear()
        self._pos = 0

    def next_event(self) -> Event | None:
        """The next Handshake (first) or message, or None until more bytes are fed."""
        if self.handshake is None:
            return self._handshake()
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 4:
            return None
        length = _U32.unpack_from(buf, pos)[0]
        if length == 0:
            self._pos = pos + 4
            return KeepAlive()
        if length > self.max_length:
            raise WireError(f"message length {length} over the limit of {self.max_length}")
        if len(buf) - pos < 5:
            return None
        msg_id = buf[pos + 4]
        _check_length(msg_id, length)
        end = pos + 4 + length
        if len(buf) < end:
            return None
        parse = _PARSE.get(msg_id)
        event = Unknown(msg_id, length - 1) if parse is None else parse(buf, pos + 5, end)
        self._pos = end
        return event

    next_frame = next_event  # minternet.framing's name for it

    def _handshake(self) -> Handshake | None:
        buf = self._buf  # nothing was consumed before the handshake: it starts at 0
        if not buf:
            return None
        if buf[0] != len(PROTOCOL):
            raise NotPlainHandshake(
                f"handshake starts with byte {buf[0]}, not 19: an encrypted (MSE/PE) "
                "handshake or not BitTorrent"
            )
        head = buf[: len(_HEADER)]
        if head != _HEADER[: len(head)]:
            raise WireError("handshake: the protocol string is not 'BitTorrent protocol'")
        if len(buf) < HANDSHAKE_LEN:
            return None
        handshake = Handshake(bytes(buf[20:28]), bytes(buf[28:48]), bytes(buf[48:68]))
        self._pos = HANDSHAKE_LEN
        self.handshake = handshake
        return handshake
