"""A hypothesis state machine against an in-memory model: UIDs strictly increase, UIDVALIDITY
is stable, MODSEQs increase with every change, expunged UIDs never come back, flags and
contents match — across deliveries, STORE, COPY, MOVE, EXPUNGE, mutt's renames and reopening
(reconcile)."""

from __future__ import annotations

import os
import shutil
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mailserver.store import Store, maildir
from mailserver.store import flags as fl

from .conftest import SCRATCH

ADDRESS = "model@x.test"
BOXES = ("INBOX", "Archive", "a.b/c")
FLAGS = ("\\Seen", "\\Flagged", "\\Deleted", "\\Answered", "\\Draft", "$Forwarded", "Work")
flag_sets = st.frozensets(st.sampled_from(FLAGS), max_size=4)


class StoreModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Durability is test_durability's subject: here fsync would only slow the search down.
        self._saved = (maildir.fsync_dir, maildir.os.fsync)
        maildir.fsync_dir = lambda path: None
        maildir.os.fsync = lambda fd: None
        # In memory when the machine has a tmpfs: hundreds of short-lived Maildirs
        self.root = tempfile.mkdtemp(prefix="store-model-", dir=SCRATCH)
        self.store = Store(self.root, host="model")
        self.user = self.store.user(ADDRESS)
        self.user.db.execute("PRAGMA synchronous = OFF")
        self.user.create("a.b/c")
        self.messages: dict[str, dict[int, tuple[frozenset[str], bytes]]] = {b: {} for b in BOXES}
        self.uidnext = dict.fromkeys(BOXES, 1)
        self.expunged: dict[str, set[int]] = {b: set() for b in BOXES}
        self.uidvalidity = {b: self.user.mailbox(b).uidvalidity for b in BOXES}
        self.modseq = {b: self.user.mailbox(b).highestmodseq for b in BOXES}
        self.counter = 0

    def teardown(self) -> None:
        maildir.fsync_dir, maildir.os.fsync = self._saved
        self.store.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def _changed(self, box: str) -> None:
        now = self.user.mailbox(box).highestmodseq
        assert now > self.modseq[box]
        self.modseq[box] = now

    @rule(box=st.sampled_from(BOXES), flags=flag_sets)
    def deliver(self, box: str, flags: frozenset[str]) -> None:
        self.counter += 1
        data = b"Subject: %d\r\n\r\nbody\r\n" % self.counter
        uid = self.user.deliver(box, data, sorted(flags))
        assert uid == self.uidnext[box]
        self.uidnext[box] = uid + 1
        self.messages[box][uid] = (flags, data)
        self._changed(box)

    @rule(
        box=st.sampled_from(BOXES),
        data=st.data(),
        mode=st.sampled_from(["set", "add", "remove"]),
        flags=flag_sets,
    )
    def store_flags(self, box: str, data: st.DataObject, mode: str, flags: frozenset[str]) -> None:
        uids = data.draw(st.sets(st.sampled_from(sorted(self.messages[box]) or [999])))
        result = self.user.store(box, uids, mode, sorted(flags))
        changed = set()
        for uid in sorted(uids & self.messages[box].keys()):
            old, body = self.messages[box][uid]
            new = flags if mode == "set" else old | flags if mode == "add" else old - flags
            if new != old:
                changed.add(uid)
            self.messages[box][uid] = (frozenset(new), body)
        assert result.changed == changed
        if changed:
            self._changed(box)

    @rule(
        src=st.sampled_from(BOXES), dst=st.sampled_from(BOXES), move=st.booleans(), data=st.data()
    )
    def transfer(self, src: str, dst: str, move: bool, data: st.DataObject) -> None:
        if move and src == dst:
            return
        uids = data.draw(st.sets(st.sampled_from(sorted(self.messages[src]) or [999])))
        present = sorted(uids & self.messages[src].keys())
        result = (self.user.move if move else self.user.copy)(src, uids, dst)
        assert [m[0] for m in result.mapping] == present
        assert [m[1] for m in result.mapping] == list(
            range(self.uidnext[dst], self.uidnext[dst] + len(present))
        )
        assert result.uidvalidity == self.uidvalidity[dst]
        for old, new in result.mapping:
            self.messages[dst][new] = self.messages[src][old]
        if present:
            self.uidnext[dst] += len(present)
            self._changed(dst)
        if move and present:
            for old in present:
                del self.messages[src][old]
                self.expunged[src].add(old)
            self._changed(src)

    @rule(box=st.sampled_from(BOXES))
    def expunge(self, box: str) -> None:
        doomed = sorted(u for u, (f, _) in self.messages[box].items() if "\\Deleted" in f)
        assert self.user.expunge(box) == doomed
        for uid in doomed:
            del self.messages[box][uid]
            self.expunged[box].add(uid)
        if doomed:
            self._changed(box)

    @precondition(lambda self: any(self.messages.values()))
    @rule(data=st.data(), bits=st.integers(0, 31))
    def mutt_rename(self, data: st.DataObject, bits: int) -> None:
        """An outside program changes a message's standard flags by renaming its file."""
        box = data.draw(st.sampled_from([b for b in BOXES if self.messages[b]]))
        uid = data.draw(st.sampled_from(sorted(self.messages[box])))
        path = self.user.message_file(box, uid).path
        base = maildir.FileName.parse(os.path.basename(path)).base
        folder = os.path.dirname(os.path.dirname(path))
        os.rename(path, os.path.join(folder, "cur", maildir.file_name(base, fl.to_info(bits, ()))))
        old, body = self.messages[box][uid]
        keywords = {f for f in old if not f.startswith("\\") and f != "$Forwarded"}
        new = frozenset(fl.names(bits)) | keywords
        self.messages[box][uid] = (new, body)
        self.reopen()
        if new != old:
            self._changed(box)

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.user = self.store.user(ADDRESS)
        self.user.db.execute("PRAGMA synchronous = OFF")

    @invariant()
    def matches_the_model(self) -> None:
        for box in BOXES:
            info = self.user.mailbox(box)
            assert info.uidvalidity == self.uidvalidity[box]
            assert info.uidnext == self.uidnext[box]
            assert info.highestmodseq == self.modseq[box]
            metas = self.user.fetch(box)
            assert [m.uid for m in metas] == sorted(self.messages[box])
            # SELECT's answer (kept between calls while the mailbox does not change) agrees
            snapshot = self.user.select(box, readonly=True)
            assert list(snapshot.uids) == sorted(self.messages[box])
            unseen = [u for u, (f, _) in self.messages[box].items() if "\\Seen" not in f]
            assert snapshot.first_unseen == (min(unseen) if unseen else None)
            snapshot.uids.append(999_999)  # the session's copy: the next SELECT is not hurt
            assert list(self.user.select(box, readonly=True).uids) == sorted(self.messages[box])
            assert not {m.uid for m in metas} & self.expunged[box]
            for m in metas:
                flags, body = self.messages[box][m.uid]
                assert frozenset(m.flags) == flags
                assert m.modseq <= info.highestmodseq
                assert self.user.read_message(box, m.uid) == body


StoreModel.TestCase.settings = settings(max_examples=60, stateful_step_count=20, deadline=None)
test_store_model = StoreModel.TestCase
