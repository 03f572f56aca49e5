"""An RDB reframed on its way to ``redis-check-rdb`` so that the checker's memory stays bounded.

``redis-check-rdb`` loads each value whole before it moves to the next one: a 300 MiB string, or a
hash of ten million fields, costs it that much memory. This filter walks the RDB's structure as it
streams past, holding at most :data:`REFRAME_OVER` bytes plus one chunk, and hands the checker every
value of more than :data:`REFRAME_OVER` bytes (or holding a string that expands to more) as a
*module value* instead: the same bytes, cut into module strings of at most :data:`PIECE` bytes,
which the checker reads and frees one at a time. Everything else passes unchanged, and so do the
counts the checker reports (keys, keys with a TTL, databases).

The reframing is length-preserving: it overwrites the value's type byte and a few bytes of framing
(a module id, a 6-byte header per piece, a closing opcode), and the bytes it overwrites are known.
The RDB's CRC-64 is linear and starts from zero, so the CRC of what the checker reads differs from
the CRC of the real RDB by the CRC of those overwritten bytes alone; the trailer the checker gets is
corrected by exactly that. The checker therefore still accepts the RDB only if the real bytes match
the real checksum: a flipped bit anywhere, inside a reframed value too, is caught. A reframed
value's structure is checked by this walk (every length must hold together), not by the checker.

A construct this walker does not know (a newer type or opcode) ends the walk: the rest of the RDB
passes through as it is and the checker judges it alone (with its memory unbounded for that rest).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

REFRAME_OVER = 1 << 20
"""Values of more bytes than this (or with a string that expands to more) reach the checker reframed."""
PIECE = 1 << 20
"""The most the checker holds of a reframed value at a time."""
FLUSH_AT = 1 << 20
_SMALL = 64 << 10  # a leftover this small is copied; a larger one is grown in place

_MODULE_2 = 7  # RDB_TYPE_MODULE_2
_MODULE_ID = b"\x81" + b"opsframe"  # a 64-bit module id (the checker only prints its name)
_STRING_OPCODE, _EOF_OPCODE = 5, 0
_HEADER = 6  # module STRING opcode (1 byte) + a 32-bit length (5 bytes)
_TAIL = 1  # the module EOF opcode
_POLY = 0x95AC9329AC4BC9B5  # CRC-64/Jones, reflected, as Redis's crc64.c


@functools.cache
def _table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


def crc64(data: bytes, crc: int = 0) -> int:
    """Redis's CRC-64 (Jones, reflected, no final xor) of ``data``, continued from ``crc``."""
    table = _table()
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _apply(columns: tuple[int, ...], crc: int) -> int:
    out, bit = 0, 0
    while crc:
        if crc & 1:
            out ^= columns[bit]
        crc >>= 1
        bit += 1
    return out


@functools.cache
def _zeros(power: int) -> tuple[int, ...]:
    """The CRC state after 2**power zero bytes, as the images of the 64 unit states."""
    if power == 0:
        return tuple(crc64(b"\x00", 1 << i) for i in range(64))
    half = _zeros(power - 1)
    return tuple(_apply(half, column) for column in half)


def _advance(crc: int, zeros: int) -> int:
    """``crc`` continued over ``zeros`` zero bytes, in O(log zeros)."""
    power = 0
    while zeros:
        if zeros & 1:
            crc = _apply(_zeros(power), crc)
        zeros >>= 1
        power += 1
    return crc


def _short_string(buf: bytes | bytearray, q: int) -> int:
    """Where the string at ``q`` ends, if its header says it is short (under 16 KiB, expanded); -1
    otherwise. The caller guarantees 16 bytes from ``q``."""
    b = buf[q]
    if b < 0x40:
        return q + 1 + b
    if b < 0x80:
        return q + 2 + ((b & 0x3F) << 8 | buf[q + 1])
    if b == 0xC3:  # LZF: compressed length, expanded length, data
        c = buf[q + 1]
        if c < 0x40:
            size, q = c, q + 2
        elif c < 0x80:
            size, q = (c & 0x3F) << 8 | buf[q + 2], q + 3
        else:
            return -1
        u = buf[q]
        if u >= 0x80:
            return -1
        return q + (1 if u < 0x40 else 2) + size
    if 0xC0 <= b <= 0xC2:  # an integer of 1, 2 or 4 bytes
        return q + 1 + (1 << (b - 0xC0))
    return -1


class _UnknownError(Exception):
    """A construct the walker does not know: pass the rest through."""


class _EndError(Exception):
    """The stream ended inside the walk (a truncated RDB: the checker will say so)."""


class Slimmer:
    """Pull chunks with ``pull`` (None at the end), push the reframed RDB to ``push`` in batches of
    about :data:`FLUSH_AT` bytes. ``offset`` is how far into the RDB the pushed bytes reach;
    ``reframed`` counts the values handed over as module values."""

    def __init__(
        self,
        pull: Callable[[], bytes | memoryview | None],
        push: Callable[[bytes | bytearray | memoryview], None],
    ) -> None:
        self._pull = pull
        self._push = push
        self.buf: bytes | bytearray = b""
        self.pos = 0  # parse position in buf
        self.emitted = 0  # bytes of buf already forwarded
        self.base = 0  # offset of buf[0] in the RDB
        self.version = 0
        self.reframed = 0
        self.offset = 0
        self.ended = False
        self.hold: int | None = None  # RDB offset from which nothing is forwarded yet
        self._value: int | None = None  # RDB offset where the current value starts (after its key)
        self._big = False  # the current value holds a string that expands past REFRAME_OVER
        self._framing = False  # the current value is being reframed; ``hold`` is the next piece
        self._diff = 0  # CRC-64 of the overwritten bytes' differences, up to _diff_at
        self._diff_at = 0
        self._out = bytearray()
        self._tail = b""  # the last 8 bytes seen: the CRC-64 once the stream ends
        self._forwarded = 0

    # -- output ----------------------------------------------------------------------------------

    def _emit(self, data: bytes | memoryview) -> None:
        if not data:
            return
        if len(data) < FLUSH_AT:  # small pieces are gathered, large ones pushed as they are
            joined = self._tail + bytes(data)
            self._out += joined[:-8]
            self._tail = joined[-8:]
            if len(self._out) >= FLUSH_AT:
                self._drain()
            return
        self._out += self._tail
        self._tail = bytes(data[-8:])
        self._drain()
        self._push(memoryview(data)[:-8])
        self.offset = self._forwarded

    def _drain(self) -> None:
        if self._out:
            out, self._out = self._out, bytearray()
            self._push(out)
        self.offset = self._forwarded

    def _forward(self, upto: int) -> None:
        """Forward the RDB up to offset ``upto`` unchanged."""
        end = upto - self.base
        if end > self.emitted:
            self._emit(memoryview(self.buf)[self.emitted : end])
            self.emitted = end
            self._forwarded = upto

    def _overwrite(self, at: int, new: bytes) -> None:
        """Forward up to ``at``, then ``new`` in place of as many bytes of the RDB."""
        self._forward(at)
        i = at - self.base
        old = self.buf[i : i + len(new)]
        diff = bytes(a ^ b for a, b in zip(old, new, strict=True))
        self._diff = crc64(diff, _advance(self._diff, at - self._diff_at))
        self._diff_at = at + len(new)
        self._emit(new)
        self.emitted = i + len(new)
        self._forwarded = at + len(new)

    # -- reframing -------------------------------------------------------------------------------

    def _commit(self) -> None:
        """Start handing the current value over as a module value: its type byte, a module id."""
        assert self.hold is not None and self._value is not None
        self._overwrite(self.hold, bytes([_MODULE_2]))
        self._overwrite(self._value, _MODULE_ID)
        self.hold, self._framing = self._value + len(_MODULE_ID), True
        self.reframed += 1

    def _pieces(self) -> None:
        """Forward every whole piece the walk has gone past (leaving room for the closing one)."""
        assert self.hold is not None
        while self.base + self.pos - self.hold >= _HEADER + PIECE + _HEADER + _TAIL:
            self._overwrite(self.hold, bytes([_STRING_OPCODE]) + b"\x80" + PIECE.to_bytes(4, "big"))
            self.hold += _HEADER + PIECE
            self._forward(self.hold)

    def _close(self) -> None:
        """The walk has reached the end of a value: reframe it if it is large, and let it go."""
        end = self.base + self.pos
        large = self._big or (self._value is not None and end - self._value > REFRAME_OVER)
        if large and not self._framing and self.hold is not None and self._value is not None:
            self._commit()
        if self._framing:
            assert self.hold is not None
            self._pieces()
            last = end - self.hold - _HEADER - _TAIL
            self._overwrite(self.hold, bytes([_STRING_OPCODE]) + b"\x80" + last.to_bytes(4, "big"))
            self._forward(end - _TAIL)
            self._overwrite(end - _TAIL, bytes([_EOF_OPCODE]))
        self.hold, self._value, self._big, self._framing = None, None, False, False

    # -- input -----------------------------------------------------------------------------------

    def _more(self) -> bool:
        chunk = self._pull()
        if chunk is None:
            self.ended = True
            return False
        if self._framing:
            self._pieces()
        elif self.hold is not None and self._value is not None:
            size = self.base + self.pos - self._value
            if (self._big or size > REFRAME_OVER) and self.base + len(self.buf) >= self._value + 16:
                self._commit()
                self._pieces()
        cut = (self.base + self.pos if self.hold is None else self.hold) - self.base
        self._forward(self.base + cut)
        rest = len(self.buf) - cut
        if rest < _SMALL and not isinstance(self.buf, bytearray):
            # the common case: a little left over, joined with the chunk in one new object (whose
            # memory the allocator reuses, where growing a buffer in place faults in new pages)
            self.buf = bytes(self.buf[cut:]) + chunk if rest else bytes(chunk)
        else:  # a value held back while it is judged: grown in place, not copied for every chunk
            if not isinstance(self.buf, bytearray):
                self.buf = bytearray(self.buf[cut:])
            elif cut:
                del self.buf[:cut]
            self.buf += chunk
            if len(self.buf) < _SMALL:
                self.buf = bytes(self.buf)
        self.base += cut
        self.emitted -= cut
        self.pos -= cut
        return True

    def _need(self, n: int) -> int:
        while len(self.buf) - self.pos < n:
            if not self._more():
                raise _EndError
        return self.pos

    def _byte(self) -> int:
        p = self.pos if self.pos < len(self.buf) else self._need(1)
        self.pos = p + 1
        return self.buf[p]

    def _skip(self, n: int) -> None:
        while len(self.buf) - self.pos < n:
            n -= len(self.buf) - self.pos
            self.pos = len(self.buf)
            if not self._more():
                raise _EndError
        self.pos += n

    def _len(self) -> tuple[int, bool]:
        """A length, and whether it is a special encoding (an integer or LZF string follows)."""
        b = self._byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return (b & 0x3F) << 8 | self._byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            p = self._need(4)
            self.pos += 4
            return int.from_bytes(self.buf[p : p + 4], "big"), False
        if b == 0x81:
            p = self._need(8)
            self.pos += 8
            return int.from_bytes(self.buf[p : p + 8], "big"), False
        raise _UnknownError

    def _number(self) -> int:
        n, special = self._len()
        if special:
            raise _UnknownError
        return n

    # -- the walk --------------------------------------------------------------------------------

    def _str(self, *, key: bool = False) -> None:
        n, special = self._len()
        size = body = n
        if special:
            if n == 3:  # LZF: compressed length, then the length it expands to
                body = self._number()
                size = max(body, self._number())
            elif n <= 2:  # an integer of 1, 2 or 4 bytes
                body = size = 1 << n
            else:
                raise _UnknownError
        if size > REFRAME_OVER:
            if key:
                self.hold = None  # a key that large is passed as it is: it cannot be reframed
            else:
                self._big = True
        self._skip(body)

    def _elements(self, each: Callable[[], None]) -> None:
        for _ in range(self._number()):
            each()

    def _value_of(self, kind: int) -> None:
        s = self._str
        if kind in (0, 9, 10, 11, 12, 13, 16, 17, 20):  # a string, or one encoded blob
            s()
        elif kind in (1, 2, 14):
            self._elements(s)
        elif kind == 3:

            def old_pair() -> None:
                s()
                b = self._byte()
                if b < 253:
                    self._skip(b)

            self._elements(old_pair)
        elif kind == 4:

            def field() -> None:
                s()
                s()

            self._elements(field)
        elif kind == 5:

            def scored() -> None:
                s()
                self._skip(8)

            self._elements(scored)
        elif kind == _MODULE_2:
            self._number()
            self._module()
        elif kind == 18:

            def node() -> None:
                self._number()  # container: plain or packed
                s()

            self._elements(node)
        elif kind in (15, 19, 21):
            self._stream(kind)
        else:
            raise _UnknownError

    def _module(self) -> None:
        while (op := self._number()) != _EOF_OPCODE:
            if op in (1, 2):
                self._number()
            elif op == 3:
                self._skip(4)
            elif op == 4:
                self._skip(8)
            elif op == _STRING_OPCODE:
                self._str()
            else:
                raise _UnknownError

    def _stream(self, kind: int) -> None:
        s = self._str

        def node() -> None:  # a node's key, then its listpack
            s()
            s()

        self._elements(node)
        for _ in range(3 + (5 if kind >= 19 else 0)):
            self._number()
        for _ in range(self._number()):  # consumer groups
            s()
            for _ in range(2 + (kind >= 19)):
                self._number()
            for _ in range(self._number()):  # the group's pending entries
                self._skip(16 + 8)
                self._number()
            for _ in range(self._number()):  # consumers
                s()
                self._skip(8 + 8 * (kind >= 21))
                for _ in range(self._number()):
                    self._skip(16)

    def _strings(self) -> None:
        """Move past the plain string entries (and their expiry) that lie wholly in the buffer, inline:
        most of a dataset, at a fraction of the general walk's cost. Anything else (another type, a
        32-bit length, an LZF string that expands past 16 KiB) is left to the general walk."""
        buf = self.buf
        end = len(buf) - 16  # room for any header read below
        p = self.pos
        while p < end:
            q = p
            b = buf[q]
            if b == 0xFC:  # an expiry in milliseconds
                q += 9
                b = buf[q]
            if b != 0:  # not a plain string value
                break
            q = _short_string(buf, q + 1)
            if q < 0 or q >= end:
                break
            q = _short_string(buf, q)
            if q < 0 or q > len(buf):
                break
            p = q
        self.pos = p

    def _walk(self) -> None:
        p = self._need(9)
        if self.buf[p : p + 5] != b"REDIS" or not self.buf[p + 5 : p + 9].isdigit():
            raise _UnknownError
        self.version = int(self.buf[p + 5 : p + 9])
        self.pos += 9
        while True:
            self._strings()
            op = self._byte()
            if op == 0xFF:  # EOF: the CRC-64 follows
                return
            if op == 0xFE:
                self._number()
            elif op == 0xFD:
                self._skip(4)
            elif op == 0xFC:
                self._skip(8)
            elif op == 0xFB:
                self._number()
                self._number()
            elif op == 0xFA:
                self._str()
                self._str()
            elif op == 0xF9:
                self._skip(1)
            elif op == 0xF8:
                self._number()
            elif op == 0xF7:  # module AUX: module id, when-opcode, when, then module values
                for _ in range(3):
                    self._number()
                self._module()
            elif op == 0xF5:  # a function library
                self._str()
            elif op > 0x20:
                raise _UnknownError
            else:
                self.hold = self.base + self.pos - 1  # the type byte and the key wait for the verdict
                self._str(key=True)
                if self.hold is not None:
                    self._value = self.base + self.pos
                self._value_of(op)
                self._close()

    def run(self) -> None:
        """Walk and forward everything; the rest passes through once the walk ends or gives up."""
        try:
            self._walk()
        except (_UnknownError, _EndError):
            self.hold, self._framing = None, False  # whatever follows goes as it is: the checker judges
        self._forward(self.base + len(self.buf))
        seen = self.base + len(self.buf)
        while not self.ended and (chunk := self._pull()) is not None:
            self._emit(chunk)
            seen += len(chunk)
            self._forwarded = seen
        if self.reframed and self.version >= 5 and len(self._tail) == 8 and self._tail != bytes(8):
            stored = int.from_bytes(self._tail, "little")
            diff = _advance(self._diff, seen - 8 - self._diff_at)
            self._tail = (stored ^ diff).to_bytes(8, "little")
        self._out += self._tail
        self._tail = b""
        self._drain()
