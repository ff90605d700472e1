"""The THREAD core (RFC 5256 §3, §4): the answer's syntax, ORDEREDSUBJECT, each step of
REFERENCES (links, loops, duplicate ids, dummies, pruning, joining by subject, ordering), and,
for any messages, threads that hold each of them exactly once in sent-date order."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.imap.threads import (
    ALGORITHMS,
    Node,
    Threadable,
    encode,
    ordered_subject,
    references,
    refs,
    thread,
)


def msg(
    seq: int,
    sent: int | None = None,
    subject: str = "",
    *,
    reply: bool = False,
    ident: str | None = None,
    refs: tuple[str, ...] = (),
    uid: int | None = None,
) -> Threadable:
    """Message `seq`, sent at `sent` (default: its number), UID seq + 100 by default."""
    return Threadable(
        seq,
        seq + 100 if uid is None else uid,
        seq if sent is None else sent,
        subject,
        reply,
        ident,
        refs,
    )


def answer(top: list[Node]) -> str:
    """The `* THREAD` answer's threads, without `* THREAD ` and the CRLF."""
    line = encode(top)
    assert line.startswith(b"* THREAD") and line.endswith(b"\r\n")
    return line[len(b"* THREAD ") : -2].decode()


def by_refs(*messages: Threadable) -> str:
    return answer(references(messages))


def by_refs_algorithm(*messages: Threadable) -> str:
    return answer(refs(messages))


# -- the answer (§4) ---------------------------------------------------------------------------


def tree(message: Threadable | None, *children: Node) -> Node:
    node = Node(message)
    for c in children:
        c.parent = node
        node.children.append(c)
    return node


def test_encode_the_rfc_example() -> None:
    # (2)(3 6 (4 23)(44 7 96)): 3 is the parent of 6, whose children are 4 and 44; 4 is the
    # parent of 23, 44 of 7, and 7 of 96
    m = {n: msg(n) for n in (2, 3, 4, 6, 7, 23, 44, 96)}
    top = [
        tree(m[2]),
        tree(m[3], tree(m[6], tree(m[4], tree(m[23])), tree(m[44], tree(m[7], tree(m[96]))))),
    ]
    assert encode(top) == b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
    assert encode(top, uid=True) == b"* THREAD (102)(103 106 (104 123)(144 107 196))\r\n"


def test_encode_a_dummy_and_nothing() -> None:
    assert encode([tree(None, tree(msg(3)), tree(msg(5)))]) == b"* THREAD ((3)(5))\r\n"
    assert encode([tree(None, tree(msg(3), tree(msg(4))), tree(msg(5)))]) == (
        b"* THREAD ((3 4)(5))\r\n"
    )
    assert encode([]) == b"* THREAD\r\n"


def test_encode_a_chain_too_deep_for_recursion() -> None:
    n = 50_000
    nodes = [tree(msg(i)) for i in range(1, n + 1)]
    for parent, child in itertools.pairwise(nodes):
        parent.children.append(child)
        child.parent = parent
    assert encode([nodes[0]]) == b"* THREAD (" + b" ".join(b"%d" % i for i in range(1, n + 1)) + (
        b")\r\n"
    )


# -- ORDEREDSUBJECT ----------------------------------------------------------------------------


def test_ordered_subject_groups_by_base_subject_under_the_earliest() -> None:
    messages = [
        msg(1, 50, "B"),
        msg(2, 10, "A"),
        msg(3, 30, "A", reply=True),
        msg(4, 20, "A"),
        msg(5, 40, "C"),
        msg(6, 45, "C"),
        msg(7, 5, ""),
        msg(8, 60, ""),
    ]
    # threads by their first message's date: "" (7, at 5), A (2, at 10), C (5), B (1); a
    # group's others are children of its first, in date order, whatever else they are
    assert answer(ordered_subject(messages)) == "(7 8)(2 (4)(3))(5 6)(1)"
    assert answer(thread("ORDEREDSUBJECT", messages)) == "(7 8)(2 (4)(3))(5 6)(1)"


def test_ordered_subject_ties_go_in_mailbox_order() -> None:
    messages = [msg(3, 10, "A"), msg(1, 10, "A"), msg(2, 10, "A"), msg(4, 10, "B")]
    assert answer(ordered_subject(messages)) == "(1 (2)(3))(4)"


def test_ordered_subject_never_nests_deeper() -> None:
    top = ordered_subject([msg(n, n, "A", ident=f"<{n}>", refs=(f"<{n - 1}>",)) for n in (1, 2, 3)])
    assert [len(c.children) for c in top[0].children] == [0, 0]


# -- REFERENCES: step 1, the links ---------------------------------------------------------------


def test_references_link_each_id_to_the_next() -> None:
    assert (
        by_refs(
            msg(1, ident="a"),
            msg(2, ident="b", refs=("a",)),
            msg(3, ident="c", refs=("a", "b")),
            msg(4, ident="d", refs=("a",)),
        )
        == "(1 (2 3)(4))"
    )


def test_an_id_no_message_has_is_a_dummy_pruned_when_it_can_be() -> None:
    # one child under a missing parent: the child takes its place (3.B, the only child)
    assert by_refs(msg(1, ident="b", refs=("gone",))) == "(1)"
    # two: the dummy stays at the top level, for want of a parent
    assert by_refs(msg(1, refs=("gone",)), msg(2, refs=("gone",))) == "((1)(2))"
    # below a message, a dummy's children take its place (3.B)
    assert (
        by_refs(msg(1, ident="a"), msg(2, refs=("a", "gone")), msg(3, refs=("a", "gone")))
        == "(1 (2)(3))"
    )
    # a chain of missing ids: every dummy goes
    assert by_refs(msg(1, refs=("x", "y", "z"))) == "(1)"


def test_a_link_that_would_make_a_loop_is_not_made() -> None:
    # 1 says 2 is its parent; then 2 says 1 is its own: that would be a loop, so 2 stays on top
    assert by_refs(msg(1, ident="a", refs=("b",)), msg(2, ident="b", refs=("a",))) == "(2 1)"
    # a message that refers to itself
    assert by_refs(msg(1, ident="a", refs=("a",))) == "(1)"
    # a References list that goes round, a b a: b under a, not a under b; 3 under the last, a
    assert by_refs(msg(1, ident="a"), msg(2, ident="b"), msg(3, refs=("a", "b", "a"))) == (
        "(1 (2)(3))"
    )


def test_a_loop_through_a_grandchild_is_not_made() -> None:
    # c under b under a; then a under c would close a loop three long
    messages = [
        msg(1, ident="a", refs=("c",)),
        msg(2, ident="b", refs=("a",)),
        msg(3, ident="c", refs=("b",)),
    ]
    # 1 goes under c (a dummy until message 3), 2 under 1, and 3's own link to b, its
    # descendant, is refused: 3 is the top
    assert by_refs(*messages) == "(3 1 2)"


def test_a_duplicate_id_is_the_first_messages_only() -> None:
    messages = [
        msg(1, ident="a", subject="one"),
        msg(2, ident="a", subject="two"),  # as if it had no id
        msg(3, ident="r", subject="three", refs=("a",)),
    ]
    assert by_refs(*messages) == "(1 3)(2)"
    # the first is the lowest-numbered, whatever order they come in
    assert by_refs(*reversed(messages)) == "(1 3)(2)"


def test_a_parent_from_a_references_list_is_kept() -> None:
    # 4 says b's parent is a; 5 says it is c: the first link stays (1.A, a truncated list)
    messages = [
        msg(1, ident="a", subject="x"),
        msg(2, ident="b", subject="y"),
        msg(3, ident="c", subject="z"),
        msg(4, refs=("a", "b"), subject="w"),
        msg(5, refs=("c", "b"), subject="v"),
    ]
    assert by_refs(*messages) == "(1 2 (4)(5))(3)"


def test_a_messages_own_references_replace_its_parent() -> None:
    # 2 says b's parent is a, but b's own References (its last id) name c (1.B)
    messages = [
        msg(1, ident="a", subject="x"),
        msg(2, refs=("a", "b"), subject="y"),
        msg(3, ident="b", refs=("c",), subject="z"),
        msg(4, ident="c", subject="w"),
    ]
    assert by_refs(*messages) == "(1)(4 3 2)"


def test_a_message_without_references_leaves_a_parent_that_is_a_message() -> None:
    # 2 says b's parent is a, message 1; b itself (3) refers to nothing: it goes to the top
    messages = [
        msg(1, ident="a", subject="x"),
        msg(2, refs=("a", "b"), subject="y"),
        msg(3, ident="b", subject="z"),
    ]
    assert by_refs(*messages) == "(1)(3 2)"


def test_a_message_without_references_loses_the_parent_others_gave_it() -> None:
    # 1 says b's parent is a; b itself (2) refers to nothing, so it has no parent (1.B)
    messages = [msg(1, refs=("a", "b"), subject="x"), msg(2, ident="b", subject="y")]
    assert by_refs(*messages) == "(2 1)"


# -- steps 4 to 6: ordering and joining by subject -------------------------------------------


def test_siblings_and_threads_in_sent_date_order_ties_in_mailbox_order() -> None:
    messages = [
        msg(1, 100, "p", ident="p"),
        msg(2, 300, "q", refs=("p",), reply=True),
        msg(3, 200, "q", refs=("p",), reply=True),
        msg(4, 200, "q", refs=("p",), reply=True),
        msg(5, 50, "other"),
        msg(6, 100, "more"),
    ]
    # 6 and 1 share a date: mailbox order puts 1 first
    assert by_refs(*messages) == "(5)(1 (3)(4)(2))(6)"


def test_a_dummy_sorts_as_its_first_child() -> None:
    messages = [
        msg(1, 30, "a", refs=("gone",)),
        msg(2, 10, "b", refs=("gone",)),
        msg(3, 20, "c"),
    ]
    assert by_refs(*messages) == "((2)(1))(3)"


def test_a_dummy_has_its_subject_from_its_earliest_child() -> None:
    # the dummy's children were linked 1, 2; sorted, 2 comes first: its subject "t" joins 3
    messages = [
        msg(1, 30, "s", refs=("gone",)),
        msg(2, 10, "t", refs=("gone",)),
        msg(3, 20, "t"),
    ]
    assert by_refs(*messages) == "((2)(3)(1))"


def test_threads_of_one_subject_join_under_a_dummy() -> None:
    # neither is a reply: a dummy over both (5.C, the last rule)
    assert by_refs(msg(1, subject="s"), msg(2, subject="s")) == "((1)(2))"
    # an empty subject joins nothing
    assert by_refs(msg(1, subject=""), msg(2, subject="")) == "(1)(2)"
    # and does not stop the threads after it from joining
    assert by_refs(msg(1, 5, ""), msg(2, 10, "s"), msg(3, 20, "s")) == "(1)((2)(3))"


def test_a_reply_joins_the_thread_that_is_not_one() -> None:
    # 2 is a reply, 1 not: 2 becomes 1's child, whichever is older
    assert by_refs(msg(1, 20, "s"), msg(2, 10, "s", reply=True)) == "(1 2)"
    # the table keeps the one that is not a reply, even when the reply came first (5.B.v)
    assert by_refs(msg(1, 10, "s", reply=True), msg(2, 20, "s")) == "(2 1)"
    # two replies: a dummy over both
    assert by_refs(msg(1, subject="s", reply=True), msg(2, subject="s", reply=True)) == ("((1)(2))")


def test_a_message_joins_a_dummy_of_its_subject() -> None:
    messages = [
        msg(1, 10, "s", refs=("gone",)),
        msg(2, 20, "t", refs=("gone",)),  # a dummy (1, 2): its subject is its first child's
        msg(3, 30, "s"),
    ]
    assert by_refs(*messages) == "((1)(2)(3))"
    # the dummy is the table's even when the message came first (5.B.v)
    messages = [msg(1, 5, "s"), msg(2, 10, "s", refs=("gone",)), msg(3, 20, "t", refs=("gone",))]
    assert by_refs(*messages) == "((1)(2)(3))"


def test_two_dummies_of_one_subject_merge() -> None:
    messages = [
        msg(1, 10, "s", refs=("x",)),
        msg(2, 20, "u", refs=("x",)),
        msg(3, 30, "s", refs=("y",)),
        msg(4, 40, "v", refs=("y",)),
    ]
    assert by_refs(*messages) == "((1)(2)(3)(4))"


def test_a_third_thread_joins_the_dummy_made_for_two() -> None:
    assert by_refs(msg(1, 10, "s"), msg(2, 20, "s"), msg(3, 30, "s")) == "((1)(2)(3))"


def test_joining_keeps_replies_below_their_parents() -> None:
    messages = [
        msg(1, 10, "s", ident="a"),
        msg(2, 20, "s", refs=("a",), reply=True),
        msg(3, 30, "s", reply=True, ident="c"),
        msg(4, 40, "s", refs=("c",), reply=True),
    ]
    # thread 3-4 (a reply) joins thread 1-2 as a child of 1, a sibling of 2
    assert by_refs(*messages) == "(1 (2)(3 4))"


def test_thread_refuses_an_unknown_algorithm() -> None:
    assert set(ALGORITHMS) == {"ORDEREDSUBJECT", "REFERENCES", "REFS"}
    with pytest.raises(ValueError, match="not a THREAD algorithm: REFSX"):
        thread("REFSX", [])


def test_a_hostile_references_chain_is_linear() -> None:
    # one message naming 100,000 ids, and 2,000 messages each naming the same 2,000: every
    # dummy is pruned, and nothing recurses or walks the chain once per link
    long = tuple(f"id{i}" for i in range(100_000))
    assert by_refs(msg(1, refs=long)) == "(1)"
    common = tuple(f"c{i}" for i in range(2_000))
    messages = [msg(n, subject="s", ident=f"m{n}", refs=common) for n in range(1, 2_001)]
    assert by_refs(*messages) == "(" + "".join(f"({n})" for n in range(1, 2_001)) + ")"


# -- any messages ----------------------------------------------------------------------------

_IDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@st.composite
def mailboxes(draw: st.DrawFn) -> list[Threadable]:
    n = draw(st.integers(0, 14))
    return [
        Threadable(
            seq,
            seq * 3,
            draw(st.integers(0, 5)),
            draw(st.sampled_from(["", "s", "t"])),
            draw(st.booleans()),
            draw(st.none() | _IDS),
            tuple(draw(st.lists(_IDS, max_size=4))),
        )
        for seq in range(1, n + 1)
    ]


_TOKEN = re.compile(r"\(|\)|\d+| ")


def parse(text: str) -> list[tuple[int | None, list]]:
    """The threads of an answer as (number or None for a dummy, children), checking RFC 5256's
    grammar: members, then two or more nested lists or none; a dummy has no members."""

    def thread_list(tokens: list[str], at: int) -> tuple[tuple[int | None, list], int]:
        assert tokens[at] == "("
        at += 1
        members = []
        while tokens[at].isdigit():
            members.append(int(tokens[at]))
            at += 1
            if tokens[at] == " ":
                at += 1
                assert tokens[at] != ")"
        nested = []
        while tokens[at] == "(":
            child, at = thread_list(tokens, at)
            nested.append(child)
        assert tokens[at] == ")"
        assert len(nested) != 1, "one nested list: it belongs in the members"
        assert members or nested, "an empty thread"
        node: tuple[int | None, list] = (None, nested)  # a dummy, unless members come first
        for number in reversed(members):  # the last member has the nested lists as children
            node = (number, nested if node[0] is None else [node])
        return node, at + 1

    tokens = _TOKEN.findall(text)
    assert "".join(tokens) == text
    top, at = [], 0
    while at < len(tokens):
        node, at = thread_list(tokens, at)
        top.append(node)
    return top


def flatten(top: list[tuple[int | None, list]]) -> list[int]:
    out, stack = [], list(top)
    while stack:
        number, children = stack.pop()
        if number is not None:
            out.append(number)
        stack.extend(children)
    return out


def test_parse_reads_the_rfc_example() -> None:
    assert parse("(2)(3 6 (4 23)(44 7 96))") == [
        (2, []),
        (3, [(6, [(4, [(23, [])]), (44, [(7, [(96, [])])])])]),
    ]
    assert parse("((3)(5))") == [(None, [(3, []), (5, [])])]


@given(mailboxes(), st.sampled_from(ALGORITHMS))
def test_every_message_exactly_once_in_date_order(
    messages: list[Threadable], algorithm: str
) -> None:
    top = thread(algorithm, messages)
    threads = parse(answer(top))
    assert sorted(flatten(threads)) == [m.seq for m in messages]
    # every set of siblings, and the threads, in sent-date order (a dummy: its first child)
    sent = {m.seq: (m.sent, m.seq) for m in messages}

    def key(node: tuple[int | None, list]) -> tuple[int, int]:
        while node[0] is None:
            node = node[1][0]
        return sent[node[0]]

    def newest(node: tuple[int | None, list]) -> int:
        seqs = flatten([node])
        return max(sent[s][0] for s in seqs)

    # REFS: the threads in the order of their newest messages (ties: see test_refs_*)
    stack = [(None, threads)] if algorithm != "REFS" else list(threads)
    if algorithm == "REFS":
        newest_first = [newest(t) for t in threads]
        assert newest_first == sorted(newest_first)
    while stack:
        _, children = stack.pop()
        keys = [key(c) for c in children]
        assert keys == sorted(keys)
        stack.extend(children)
    if algorithm == "ORDEREDSUBJECT":  # a thread per subject, no grandchildren
        assert len(threads) == len({m.subject for m in messages})
        assert all(not g for _, children in threads for _, g in children)


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[Threadable], dict[int, int | None]]:
    """Messages that each reply to an earlier one or to none, with References lists as MUAs
    write them (the parent's ancestors and the parent, often cut short to the last few), every
    subject its own; and each message's parent."""
    n = draw(st.integers(1, 25))
    parents: dict[int, int | None] = {}
    paths: dict[int, list[str]] = {}
    messages = []
    for seq in range(1, n + 1):
        p = draw(st.none() | st.integers(1, seq - 1)) if seq > 1 else None
        parents[seq] = p
        path = [] if p is None else [*paths[p], f"m{p}"]
        paths[seq] = path
        keep = draw(st.integers(1, max(1, len(path))))
        sent = draw(st.integers(0, 9))
        messages.append(
            Threadable(seq, seq, sent, f"s{seq}", p is not None, f"m{seq}", tuple(path[-keep:]))
        )
    order = draw(st.permutations(messages))
    return list(order), parents


@given(conversations())
def test_references_rebuild_the_conversation(case: tuple[list[Threadable], dict]) -> None:
    messages, parents = case
    top = references(messages)
    found: dict[int, int | None] = {}
    stack: list[tuple[Node, int | None]] = [(n, None) for n in top]
    while stack:
        node, above = stack.pop()
        assert node.message is not None  # every id is a message's: no dummy is left
        found[node.message.seq] = above
        stack.extend((c, node.message.seq) for c in node.children)
    assert found == parents


# -- REFS (Dovecot's THREAD=REFS; its answers: test_session_thread_dovecot.py) -----------------


def test_refs_orders_threads_by_their_newest_message() -> None:
    """A reply makes its thread the newest: it goes last; REFERENCES keeps the root's date."""
    mails = [msg(1, 1, ident="a"), msg(2, 2), msg(3, 3), msg(4, 9, refs=("a",))]
    assert by_refs_algorithm(*mails) == "(2)(3)(1 4)"
    assert by_refs(*mails) == "(1 4)(2)(3)"


def test_refs_siblings_in_date_order_at_every_level() -> None:
    mails = [
        msg(1, 1, ident="a"),
        msg(2, 7, ident="b", refs=("a",)),
        msg(3, 3, refs=("a",)),
        msg(4, 5, refs=("a", "b")),
        msg(5, 4, refs=("a", "b")),
    ]
    assert by_refs_algorithm(*mails) == "(1 (3)(2 (5)(4)))"


def test_refs_joins_no_threads_by_subject() -> None:
    mails = [msg(1, 1, "hi"), msg(2, 2, "other"), msg(3, 3, "hi", reply=True)]
    assert by_refs_algorithm(*mails) == "(1)(2)(3)"
    assert by_refs(*mails) == "(1 3)(2)"


def test_refs_ties_go_to_the_first_message_a_missing_parent_first() -> None:
    """Same newest date: the thread whose first message has the lower number first; a missing
    parent counts as 0, even with one child (which then stands for the thread)."""
    assert by_refs_algorithm(msg(1, 5, ident="a"), msg(2, 5), msg(3, 1, refs=("a",))) == (
        "(1 3)(2)"
    )
    assert by_refs_algorithm(msg(1, 5), msg(2, 5, refs=("gone",)), msg(3, 5, refs=("gone",))) == (
        "((2)(3))(1)"
    )
    assert by_refs_algorithm(msg(1, 5), msg(2, 5), msg(3, 5, refs=("gone",))) == "(3)(1)(2)"
    assert by_refs(msg(1, 5), msg(2, 5), msg(3, 5, refs=("gone",))) == "(1)(2)(3)"


def test_refs_two_missing_parents_tie_in_the_order_first_referred_to() -> None:
    mails = [msg(1, 5, refs=("y",)), msg(2, 5, refs=("x",)), msg(3, 5, refs=("y",))]
    assert by_refs_algorithm(*mails) == "((1)(3))(2)"
    mails = [msg(1, 5, refs=("x", "y")), msg(2, 5, refs=("z",))]
    assert by_refs_algorithm(*mails) == "(1)(2)"


def test_refs_missing_parents_inside_a_thread_are_not_shown() -> None:
    mails = [
        msg(1, 1, ident="a"),
        msg(2, 2, refs=("a", "gone")),
        msg(3, 3, refs=("a", "gone")),
        msg(4, 4, refs=("a",)),
    ]
    assert by_refs_algorithm(*mails) == "(1 (2)(3)(4))"
    assert by_refs_algorithm() == ""
