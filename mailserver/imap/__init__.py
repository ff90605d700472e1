"""IMAP4rev1 (RFC 3501) and its extensions: the command parser, the response encoder, their values.

syntax.py reads the grammar's values (ParseError, literal flow control), commands.py builds
typed commands from a framed command (search_commands.py the searching ones), fetchatt.py and
search.py parse FETCH items and search keys, seqset.py handles sequence sets, utf7.py mailbox
names, encode.py writes responses.
"""
