"""Buddy free lists of head pfns with kernel list order, in 4 bytes per entry.

A kernel free list is a doubly linked list threaded through `page->lru`: blocks go on at
the head or the tail, leave from anywhere (a merge takes the buddy off whatever list it
is on) and allocations take the head. Storing prev/next per pfn would cost 8 bytes a
page, so instead a list is two stacks of pfns: head insertions pile up on one (its top is
the list head), tail insertions on the other (its bottom is the first tail entry).
Removal is lazy: an entry counts only while the page still says it is a buddy head of
this list at this slot (`token` holds the slot, `aux` the order and migratetype), so
taking a block off a list is O(1) and walking the list skips dead entries.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

import numpy as np

from .constants import F_BUDDY


class FreeList:
    __slots__ = ("code", "count", "head", "tail", "tail_start")

    def __init__(self, code: int) -> None:
        self.code = code  # aux byte of a head on this list: order | migratetype << 4
        self.count = 0
        self.head = array("I")
        self.tail = array("I")
        self.tail_start = 0

    def _live(self, pfn: int, slot: int, flags, aux, token) -> bool:
        return bool(flags[pfn] & F_BUDDY) and aux[pfn] == self.code and token[pfn] == slot

    def add(self, pfn: int, to_tail: bool, token) -> None:
        if to_tail:
            token[pfn] = (len(self.tail) << 1) | 1
            self.tail.append(pfn)
        else:
            token[pfn] = len(self.head) << 1
            self.head.append(pfn)
        self.count += 1

    def removed(self) -> None:
        """Account for a lazy removal (the caller has cleared PageBuddy)."""
        self.count -= 1
        if self.count == 0:
            self.head = array("I")
            self.tail = array("I")
            self.tail_start = 0

    def removed_n(self, n: int) -> None:
        """removed() n times over."""
        self.count -= n
        if self.count == 0:
            self.head = array("I")
            self.tail = array("I")
            self.tail_start = 0

    def append_raw(self, pfns: np.ndarray, to_tail: bool) -> int:
        """Push pfns (uint32) on the head or tail stack without setting their tokens;
        returns the first one's index in that stack. The caller sets PageBuddy, aux and
        the tokens (the slot: index << 1, | 1 on the tail stack)."""
        stack = self.tail if to_tail else self.head
        first = len(stack)
        stack.frombytes(np.ascontiguousarray(pfns, dtype=np.uint32).view(np.uint8))
        self.count += len(pfns)
        return first

    def pop_front(self, flags, aux, token) -> int:
        """Take the first live entry off the list; -1 if empty. Caller clears PageBuddy."""
        if self.count == 0:
            return -1
        head = self.head
        while head:
            pfn = head.pop()
            if self._live(pfn, len(head) << 1, flags, aux, token):
                return pfn
        tail = self.tail
        while self.tail_start < len(tail):
            i = self.tail_start
            pfn = tail[i]
            self.tail_start = i + 1
            if self._live(pfn, (i << 1) | 1, flags, aux, token):
                self._reclaim_tail_front(flags, aux, token)
                return pfn
        raise AssertionError("free list count says non-empty but no live entry")

    def __iter__(self) -> Iterator[int]:
        raise TypeError("use walk(flags, aux, token)")

    def walk(self, flags, aux, token) -> Iterator[int]:
        """Live entries in list order (head first)."""
        head = self.head
        for i in range(len(head) - 1, -1, -1):
            pfn = head[i]
            if self._live(pfn, i << 1, flags, aux, token):
                yield pfn
        tail = self.tail
        for i in range(self.tail_start, len(tail)):
            pfn = tail[i]
            if self._live(pfn, (i << 1) | 1, flags, aux, token):
                yield pfn

    def walk_reverse(self, flags, aux, token) -> Iterator[int]:
        """Live entries from the list tail backwards (list_for_each_entry_reverse)."""
        tail = self.tail
        for i in range(len(tail) - 1, self.tail_start - 1, -1):
            pfn = tail[i]
            if self._live(pfn, (i << 1) | 1, flags, aux, token):
                yield pfn
        head = self.head
        for i in range(len(head)):
            pfn = head[i]
            if self._live(pfn, i << 1, flags, aux, token):
                yield pfn

    def rotate_to_head(self, pfn: int, flags, aux, token) -> None:
        """move_freelist_head(): make pfn the first entry; the entries before it go to the
        tail, in order. Costs what a reverse walk to pfn already cost: the entries from
        pfn to the tail are re-pushed on the head stack, which kills their old slots."""
        suffix = []
        for p in self.walk_reverse(flags, aux, token):
            suffix.append(p)
            if p == pfn:
                break
        else:
            return
        for p in suffix:  # tail end first, so pfn ends on top of the head stack
            token[p] = len(self.head) << 1
            self.head.append(p)
        self.maybe_gc(flags, aux, token)

    def rotate_to_tail(self, pfn: int, flags, aux, token) -> None:
        """move_freelist_tail(): make pfn the last entry; it and the entries before it
        move to the tail, in order (cost: the forward walk to pfn)."""
        prefix = []
        for p in self.walk(flags, aux, token):
            prefix.append(p)
            if p == pfn:
                break
        else:
            return
        for p in prefix:
            token[p] = (len(self.tail) << 1) | 1
            self.tail.append(p)
        self._trim_front(flags, aux, token)
        self.maybe_gc(flags, aux, token)

    def _trim_front(self, flags, aux, token) -> None:
        """Drop the dead entries in front of the first live one (the old slots of entries
        just moved): repeated moves would otherwise make every walk step over them again."""
        head = self.head
        while head and not self._live(head[-1], (len(head) - 1) << 1, flags, aux, token):
            head.pop()
        if not head:
            tail = self.tail
            i = self.tail_start
            while i < len(tail) and not self._live(tail[i], (i << 1) | 1, flags, aux, token):
                i += 1
            self.tail_start = i
            self._reclaim_tail_front(flags, aux, token)

    def _reclaim_tail_front(self, flags, aux, token) -> None:
        """Rewrite the list once most of the tail stack lies behind tail_start."""
        if self.tail_start > 4096 and self.tail_start * 2 > len(self.tail):
            self._gc(flags, aux, token)

    def first(self, flags, aux, token) -> int:
        for pfn in self.walk(flags, aux, token):
            return pfn
        return -1

    def maybe_gc(self, flags, aux, token) -> None:
        dead = len(self.head) + len(self.tail) - self.tail_start - self.count
        if dead > self.count + 4096:
            self._gc(flags, aux, token)

    def _gc(self, flags, aux, token) -> None:
        """Rewrite the list as one tail stack of its live entries, in list order."""
        flags, aux, token = np.asarray(flags), np.asarray(aux), np.asarray(token)
        head = np.frombuffer(self.head, dtype=np.uint32)
        tail = np.frombuffer(self.tail, dtype=np.uint32)
        pfns = np.concatenate((head[::-1], tail[self.tail_start :])).astype(np.intp)
        slots = np.concatenate(
            (
                np.arange(len(head) - 1, -1, -1, dtype=np.uint32) << 1,
                (np.arange(self.tail_start, len(tail), dtype=np.uint32) << 1) | 1,
            )
        )
        # the slot check first: it rules out most dead entries, so the other two gather less
        cand = pfns[token[pfns] == slots]
        live = cand[((flags[cand] & F_BUDDY) != 0) & (aux[cand] == self.code)]
        self.head = array("I")
        self.tail = array("I")
        self.tail.frombytes(live.astype(np.uint32).view(np.uint8))
        self.tail_start = 0
        token[live] = (np.arange(len(live), dtype=np.uint32) << 1) | 1

    def to_state(self) -> tuple:
        return (self.code, self.count, self.head.tobytes(), self.tail.tobytes(), self.tail_start)

    @classmethod
    def from_state(cls, state: tuple) -> FreeList:
        fl = cls(state[0])
        fl.count = state[1]
        fl.head.frombytes(state[2])
        fl.tail.frombytes(state[3])
        fl.tail_start = state[4]
        return fl
