"""THREAD (RFC 5256 §3): the ORDEREDSUBJECT and REFERENCES algorithms, Dovecot's REFS, and
the `* THREAD` answer they give.

- A message as THREAD sees it is a `Threadable`: its numbers, its sent date (the Date: field in
  UTC, else the internal date, §2.2), its base subject (§2.1) in the i;unicode-casemap form
  that compares it (sorting.casemap), whether the subject was a reply or forward, its
  Message-ID and the ids it refers to (References, else the first id of In-Reply-To).
- Siblings are ordered by sent date, ties in mailbox order (§2.2); a dummy (a message that was
  referred to but is not among those threaded, or a parent made to join two threads of one
  subject) sorts as its first child.
- ORDEREDSUBJECT groups the messages by base subject: the earliest of a group is the parent of
  the others. REFERENCES links each message under the last id it refers to, then prunes the
  dummies, then joins the top-level threads that have the same base subject, exactly in the
  steps of §3; loops are never made, a message whose id another already has is threaded as if
  it had none, and an id no message has becomes a dummy.
- Everything here is iterative, so a hostile chain of 100,000 references cannot exhaust the
  stack, and making a link costs at most one walk up from the new parent, none when the new
  child has no children of its own (the usual case: a References list read in order).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from typing import NamedTuple

__all__ = [
    "ALGORITHMS",
    "Answers",
    "Node",
    "Threadable",
    "encode",
    "ordered_subject",
    "references",
    "refs",
    "thread",
]

#: The algorithms THREAD accepts, as the capability names them (THREAD=...).
ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES", "REFS")


class Threadable(NamedTuple):
    """A message as THREAD sees it. `subject` is the casemapped base subject; `refs` are the
    ids of its References field, else the first of its In-Reply-To field, else none. (A named
    tuple: 100,000 are made for one THREAD, three times faster than a frozen dataclass.)"""

    seq: int
    uid: int
    sent: int
    subject: str = ""
    reply: bool = False
    message_id: str | None = None
    refs: tuple[str, ...] = ()


class Node:
    """A message (or a dummy, `message` None) in a thread tree, with its children (`parent` is
    kept while the links are made, REFERENCES' step 1; the later steps use the children)."""

    __slots__ = ("children", "message", "parent")

    def __init__(self, message: Threadable | None = None) -> None:
        self.message = message
        self.parent: Node | None = None
        self.children: list[Node] = []

    def key(self) -> tuple[int, int]:
        """What siblings are ordered by: the sent date, then the sequence number; a dummy's is
        its first child's (its children are ordered before it is)."""
        node = self
        while node.message is None:
            node = node.children[0]
        return node.message.sent, node.message.seq


def thread(algorithm: str, messages: Sequence[Threadable]) -> list[Node]:
    """The top-level threads of `messages` by one of ALGORITHMS, in order."""
    if algorithm == "ORDEREDSUBJECT":
        return ordered_subject(messages)
    if algorithm == "REFERENCES":
        return references(messages)
    if algorithm == "REFS":
        return refs(messages)
    raise ValueError(f"not a THREAD algorithm: {algorithm}")


def ordered_subject(messages: Sequence[Threadable]) -> list[Node]:
    """ORDEREDSUBJECT (§3): the messages of each base subject under the earliest of them, in
    sent-date order; the threads in the sent-date order of their first messages."""
    groups: dict[str, Node] = {}
    for m in sorted(messages, key=lambda m: (m.sent, m.seq)):
        node = Node(m)
        first = groups.get(m.subject)
        if first is None:
            groups[m.subject] = node
        else:
            first.children.append(node)
    return list(groups.values())  # in the order of their first messages, the order made


def references(messages: Sequence[Threadable]) -> list[Node]:
    """REFERENCES (§3), its six steps."""
    roots, inner = _linked(messages)
    # 3: no dummy without children
    if inner:
        _prune_below(roots)
    top = _top_level(roots)
    # 4: the top level in sent-date order, a dummy by its first child
    for node in top:
        if node.message is None:
            node.children.sort(key=Node.key)
    top.sort(key=Node.key)
    # 5: threads of one base subject joined
    top = _join_subjects(top)
    # 6: every set of siblings in sent-date order, the deepest first
    _sort_below(top)
    top.sort(key=Node.key)
    return top


def refs(messages: Sequence[Threadable]) -> list[Node]:
    """REFS, Dovecot's THREAD=REFS: REFERENCES' links (steps 1 to 3), no threads joined by
    subject, siblings in sent-date order at every level, and the threads in the order of their
    newest message (the last thread is the one with the latest mail), ties by the number of
    the thread's first message, a missing parent's being 0 (even when it has one child and the
    child stands for the thread), two of those in the order their ids were first seen. As
    Dovecot 2.3 answers on 660 random mailboxes (tests/mailserver/imap/test_threads.py)."""
    roots, inner = _linked(messages)
    if inner:
        _prune_below(roots)
    _sort_below(roots)
    keyed: list[tuple[tuple[int, int], Node]] = []
    for node in roots:  # (messages in number order, then missing parents as first seen)
        if node.message is None and not node.children:
            continue
        newest = max(n.message.sent for n in _deepest_first([node]) if n.message is not None)
        first = 0 if node.message is None else node.message.seq
        shown = node if node.message is not None or len(node.children) > 1 else node.children[0]
        keyed.append(((newest, first), shown))
    keyed.sort(key=lambda k: k[0])  # (stable: missing parents keep their order)
    return [node for _, node in keyed]


def _linked(messages: Sequence[Threadable]) -> tuple[list[Node], bool]:
    """REFERENCES' steps 1 and 2: every message and missing parent linked, and those without
    a parent (messages in number order, then missing parents in the order first referred to);
    and whether a missing parent has a parent (else step 3 below the top level has nothing to
    do)."""
    ordered = sorted(messages)  # (by sequence number: a Threadable's first field)
    # 1: a container per Message-ID; a duplicate id (after the first, lowest-numbered, message
    # that has it) or none makes a container of its own that no reference can find
    by_id: dict[str, Node] = {}
    nodes: list[Node] = []
    for m in ordered:
        node = Node(m)
        if m.message_id is not None and m.message_id not in by_id:
            by_id[m.message_id] = node
        nodes.append(node)

    get = by_id.get
    unlinked: list[Node] = []  # parents a child left: their lists still hold it
    for node in nodes:
        assert node.message is not None
        # 1.A: each reference the parent of the next, unless the next has a parent already
        parent = None
        for ident in node.message.refs:
            child = get(ident)
            if child is None:
                child = by_id[ident] = Node()  # a dummy for an id no message has
            if parent is not None and child.parent is None and not _loops(parent, child):
                _link(parent, child)
            parent = child
        # 1.B: the message under its last reference, whatever parent it had (a truncated
        # References field may have given it a wrong one); no references: no parent. (It is
        # left in its old parent's list until the lists are cleaned: a list.remove per relink
        # would cost quadratic time when a hostile mailbox relinks every child of one message.)
        if node.parent is not None:
            unlinked.append(node.parent)
            node.parent = None
        if parent is not None and not _loops(parent, node):
            _link(parent, node)
    for node in unlinked:
        node.children = list({id(c): c for c in node.children if c.parent is node}.values())
    # 2: the containers without a parent are the top level
    dummies = [n for n in by_id.values() if n.message is None]
    inner = any(n.parent is not None for n in dummies)
    return [n for n in (*nodes, *dummies) if n.parent is None], inner


def _loops(parent: Node, child: Node) -> bool:
    """Whether making `parent` the parent of `child` would make a loop: `parent` is `child` or
    one of its descendants."""
    if parent is child:
        return True
    if not child.children:
        return False
    up = parent.parent
    while up is not None:
        if up is child:
            return True
        up = up.parent
    return False


def _link(parent: Node, child: Node) -> None:
    child.parent = parent
    parent.children.append(child)


def _prune_below(top: list[Node]) -> None:
    """Step 3 below the top level, the deepest dummies first: a dummy without children goes;
    one with children gives them to its parent in its place."""
    for node in _deepest_first(top):
        if not any(c.message is None for c in node.children):
            continue
        kept: list[Node] = []
        for c in node.children:
            if c.message is not None:
                kept.append(c)
                continue
            kept.extend(c.children)  # (pruned already: none is a dummy)
        node.children = kept


def _top_level(top: list[Node]) -> list[Node]:
    """Step 3 at the top level: a dummy stays when it has more than one child, its only child
    takes its place, and one without children goes."""
    out: list[Node] = []
    for node in top:
        if node.message is not None or len(node.children) > 1:
            out.append(node)
        elif node.children:
            out.append(node.children[0])
    return out


def _subject(node: Node) -> tuple[str, bool]:
    """(base subject, dummy) of a top-level thread: its message's, or its first child's."""
    first = node if node.message is not None else node.children[0]
    assert first.message is not None
    return first.message.subject, node.message is None


def _join_subjects(top: list[Node]) -> list[Node]:
    """Step 5: top-level threads with the same (non-empty) base subject joined under one."""
    table: dict[str, Node] = {}
    for node in top:  # 5.B: which thread of each subject the others join
        subject, dummy = _subject(node)
        if not subject:
            continue
        held = table.get(subject)
        if held is None or (
            held.message is not None and (dummy or (held.message.reply and not _reply(node)))
        ):
            table[subject] = node
    out = list(top)
    at = {id(n): i for i, n in enumerate(out)}
    gone: set[int] = set()
    for node in top:  # 5.C
        subject, dummy = _subject(node)
        if not subject:
            continue
        held = table[subject]
        if held is node:
            continue
        gone.add(id(node))
        if held.message is None and dummy:  # both dummies: the children become siblings
            held.children.extend(node.children)
        elif held.message is None or (_reply(node) and not held.message.reply):
            _link(held, node)
        else:  # a new dummy over both, in the table's thread's place
            joined = Node()
            _link(joined, held)
            _link(joined, node)
            out[at[id(held)]] = joined  # (a later thread of this subject joins the dummy)
            table[subject] = joined
    return [n for n in out if id(n) not in gone]


def _reply(node: Node) -> bool:
    return node.message is not None and node.message.reply


def _sort_below(top: list[Node]) -> None:
    """Step 6 below the top level: each set of siblings in sent-date order, the deepest sets
    first (a dummy sorts as its first child, so its children are in order before it is
    compared)."""
    for node in _deepest_first(top):
        if len(node.children) > 1:
            node.children.sort(key=Node.key)


def _deepest_first(top: list[Node]) -> list[Node]:
    """Every node of the trees, each after all of its children (a depth-first walk, the
    order reversed: no recursion, however deep the trees)."""
    walk: list[Node] = []
    stack = list(top)
    while stack:
        node = stack.pop()
        walk.append(node)
        stack.extend(node.children)
    walk.reverse()
    return walk


def encode(top: Sequence[Node], uid: bool = False) -> bytes:
    """`* THREAD` and the threads (RFC 5256 §4): a message and its only child in one list,
    `(1 2 3)`; a message's children, when it has two or more, each in a list of its own after
    it, `(1 (2)(3 4))`; a dummy's children in lists of their own, `((1)(2))`. Sequence numbers,
    or UIDs for UID THREAD."""
    out = [b"* THREAD"]
    if top:
        out.append(b" ")
    # a stack of what is left to write: a node to open a list for, or a closing parenthesis
    stack: list[Node | None] = [*reversed(top)]
    while stack:
        node = stack.pop()
        if node is None:
            out.append(b")")
            continue
        stack.append(None)
        chain = []  # a message and its only child, and its only child..., in one list
        while node.message is not None:
            chain.append(b"%d" % (node.message.uid if uid else node.message.seq))
            if len(node.children) != 1:
                break
            node = node.children[0]
        out.append(b"(" + b" ".join(chain) + (b" " if chain and node.children else b""))
        stack.extend(reversed(node.children))
    out.append(b"\r\n")
    return b"".join(out)


class Answers:
    """The last `* THREAD` answers, each under a key that says everything it depends on (for
    THREAD ... ALL: the mailbox, its UIDVALIDITY, the algorithm, UIDs or numbers, and the
    UIDs the session sees, since a message's headers and internal date never change). So a
    client that threads the same mailbox again (a webmail, page after page) gets it without the
    index being read again; Dovecot keeps a thread index for the same reason. At most
    `entries` answers and `octets` octets are kept, the least recently used going first; safe
    to share between threads."""

    def __init__(self, entries: int, octets: int) -> None:
        self.entries = entries
        self.octets = octets
        self._kept: dict[Hashable, bytes] = {}  # (in use order: the oldest first)
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            answer = self._kept.pop(key, None)
            if answer is not None:
                self._kept[key] = answer  # the most recently used now
            return answer

    def put(self, key: Hashable, answer: bytes) -> None:
        if len(answer) > self.octets:
            return
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._kept[key] = answer
            self._size += len(answer)
            while len(self._kept) > self.entries or self._size > self.octets:
                oldest = next(iter(self._kept))
                self._size -= len(self._kept.pop(oldest))

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def size(self) -> int:
        return self._size
