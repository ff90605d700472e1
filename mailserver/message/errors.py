"""The one error type of the message core."""


class MessageError(Exception):
    """A request about a message that cannot be answered (a bad section spec, a corrupt
    summary). Garbage inside a message is never an error: it is parsed as well as it can be."""


class SectionError(MessageError):
    """A BODY[section] spec that is not RFC 3501 syntax: the command gets a tagged BAD."""
