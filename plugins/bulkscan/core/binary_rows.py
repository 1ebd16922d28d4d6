"""MySQL's binary result rows when every column is a fixed-width number: read as arrays, not parsed.

A prepared statement's rows come in the binary protocol (COM_STMT_EXECUTE's reply): each row packet
is a 4-byte header (3-byte length, sequence id), a 0x00, a NULL bitmap, then every non-NULL value in
its binary form. When each column is a fixed-width number (TINYINT to BIGINT, FLOAT, DOUBLE, YEAR) and
holds no NULL, every row packet has the same length, so a block of received bytes *is* an array of
rows: NumPy views it with one structured dtype and copies each column out in one step, with no Python
per row and no per-value decoding. That is why Arrow batches of numeric columns cost the client a
fraction of a row-by-row reader's time (ConnectorX's included; docs/table-scan.md, "Arrow batches").

Every packet's header is checked, so the reading never drifts off the packet boundaries: the first
packet that is not a row of the layout ends the block, and the caller looks at it: the result's end
(EOF), an error, or a row of another length (a NULL), which this layout cannot read
(`NotFixedWidth`: the caller reads that range another way).

Pure: bytes in, arrays out; the protocol's numbers are from the MySQL client/server protocol
documentation (binary protocol result set, COM_STMT_PREPARE/EXECUTE).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

COM_STMT_PREPARE = 0x16
COM_STMT_EXECUTE = 0x17
COM_STMT_CLOSE = 0x19
UNSIGNED_FLAG = 0x20  # a column definition's flags
EOF_LEAD, ERR_LEAD, ROW_LEAD = 0xFE, 0xFF, 0x00

# MySQL type code -> (bytes, NumPy dtype signed, unsigned): the fixed-width binary forms
FIXED_TYPES: dict[int, tuple[int, str, str]] = {
    1: (1, "i1", "u1"),  # TINYINT
    2: (2, "<i2", "<u2"),  # SMALLINT
    3: (4, "<i4", "<u4"),  # INT
    9: (4, "<i4", "<u4"),  # MEDIUMINT (sent in 4 bytes)
    8: (8, "<i8", "<u8"),  # BIGINT
    4: (4, "<f4", "<f4"),  # FLOAT
    5: (8, "<f8", "<f8"),  # DOUBLE
    13: (2, "<i2", "<u2"),  # YEAR
}


class NotFixedWidth(Exception):
    """This result cannot be read as fixed-width rows: a column that is not a fixed-width number, or a
    row of another length (a NULL left its value out)."""


@dataclass(frozen=True)
class Column:
    """What a column definition packet says that matters here."""

    name: str
    type_code: int
    flags: int


@dataclass(frozen=True)
class RowLayout:
    """Where each value sits in a row packet of a result whose columns are all fixed-width."""

    names: tuple[str, ...]
    dtype: np.dtype[Any]
    stride: int  # bytes of one row packet, header included

    @classmethod
    def of(cls, columns: Sequence[Column]) -> RowLayout:
        """The layout of `columns`' rows, or NotFixedWidth naming the first column it cannot hold."""
        if not columns:
            raise NotFixedWidth("a result without columns")
        bitmap = (len(columns) + 7 + 2) // 8  # the binary protocol's NULL bitmap has 2 reserved bits
        names, formats, offsets = ["header", "lead", "nulls"], ["<u4", "u1", f"({bitmap},)u1"], [0, 4, 5]
        offset = 5 + bitmap
        for c in columns:
            if c.type_code not in FIXED_TYPES:
                raise NotFixedWidth(f"column {c.name!r} (MySQL type {c.type_code}) is not a fixed-width number")
            width, signed, unsigned = FIXED_TYPES[c.type_code]
            names.append(f"c{len(names) - 3}")
            formats.append(unsigned if c.flags & UNSIGNED_FLAG else signed)
            offsets.append(offset)
            offset += width
        dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": offset})
        return cls(tuple(c.name for c in columns), dtype, offset)

    def split(self, buf: bytes | bytearray | memoryview, size: int) -> Rows:
        """The complete row packets at the start of buf[:size]; `end` is the offset of the first packet
        that is not one (the result's end, an error or a NULL), None while more rows may follow."""
        count = size // self.stride
        rows = np.frombuffer(buf, dtype=self.dtype, count=count)
        payload = self.stride - 4
        ok = ((rows["header"] & 0xFFFFFF) == payload) & (rows["lead"] == ROW_LEAD)
        ok &= ~rows["nulls"].any(axis=1)
        good = count if bool(ok.all()) else int(np.argmin(ok))
        end: int | None = good * self.stride if good < count else None
        if end is None and size - count * self.stride >= 5:  # a shorter packet after the last row
            tail = count * self.stride
            length = int.from_bytes(bytes(buf[tail : tail + 3]), "little")
            if length != payload or buf[tail + 4] != ROW_LEAD:
                end = tail
        columns = tuple(np.array(rows[f"c{i}"][:good]) for i in range(len(self.names)))
        return Rows(columns, good, good * self.stride, end)


@dataclass(frozen=True)
class Rows:
    columns: tuple[np.ndarray[Any, Any], ...]  # copies: the caller reuses its buffer
    count: int
    used: int  # bytes of the complete rows
    end: int | None


def packet_length(header: bytes | bytearray | memoryview) -> int:
    """The payload length a packet header announces."""
    return int.from_bytes(bytes(header[:3]), "little")


def is_eof(payload: bytes | bytearray | memoryview) -> bool:
    return len(payload) < 9 and payload[0] == EOF_LEAD


def prepare_ok(payload: bytes) -> tuple[int, int, int]:
    """(statement id, columns, parameters) of COM_STMT_PREPARE's OK reply."""
    if payload[:1] != b"\x00":
        raise ValueError(f"not a prepare reply: {payload[:16]!r}")
    statement, columns, params = struct.unpack_from("<IHH", payload, 1)
    return statement, columns, params


def execute_payload(statement: int, params: Sequence[Any]) -> bytes:
    """COM_STMT_EXECUTE's body (after the command byte): no cursor, one iteration, every parameter
    bound with its type. Integers go as BIGINT (UNSIGNED past 2^63), floats as DOUBLE, None as NULL,
    bytes as a BLOB, and anything else (strings, dates, decimals) as its text, which the server
    converts as it would a quoted literal."""
    body = struct.pack("<IBI", statement, 0, 1)
    if not params:
        return body
    nulls = bytearray((len(params) + 7) // 8)
    types, values = bytearray(), bytearray()
    for i, value in enumerate(params):
        if value is None:
            nulls[i // 8] |= 1 << (i % 8)
            types += b"\x06\x00"  # MYSQL_TYPE_NULL
        elif isinstance(value, bool | int):
            unsigned = value >= 1 << 63
            types += b"\x08\x80" if unsigned else b"\x08\x00"
            values += struct.pack("<Q" if unsigned else "<q", int(value))
        elif isinstance(value, float):
            types += b"\x05\x00"
            values += struct.pack("<d", value)
        else:
            raw = value if isinstance(value, bytes) else str(value).encode()
            types += b"\xfc\x00" if isinstance(value, bytes) else b"\xfd\x00"  # BLOB / VAR_STRING
            values += _lenenc(len(raw)) + raw
    return body + bytes(nulls) + b"\x01" + bytes(types) + bytes(values)


def _lenenc(n: int) -> bytes:
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little")
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little")
    return b"\xfe" + n.to_bytes(8, "little")
