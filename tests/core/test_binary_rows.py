"""Binary result rows of fixed-width numbers read as arrays (bulkscan.core.binary_rows): the packets are
built here with `struct` from the protocol's description, so the ground truth is the values packed,
not the parser's own idea of them."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from bulkscan.core.binary_rows import Column, NotFixedWidth, RowLayout, execute_payload

# (MySQL type code, flags, struct format, extreme values)
TYPES = [
    (1, 0, "b", [-128, 127, 0]),  # TINYINT
    (1, 0x20, "B", [0, 255, 7]),  # TINYINT UNSIGNED
    (2, 0, "h", [-32768, 32767, -1]),  # SMALLINT
    (9, 0x20, "I", [0, 16777215, 5]),  # MEDIUMINT UNSIGNED, sent in 4 bytes
    (3, 0, "i", [-(2**31), 2**31 - 1, 42]),  # INT
    (3, 0x20, "I", [0, 2**32 - 1, 1]),  # INT UNSIGNED
    (8, 0, "q", [-(2**63), 2**63 - 1, -5]),  # BIGINT
    (8, 0x20, "Q", [0, 2**64 - 1, 2**63]),  # BIGINT UNSIGNED
    (5, 0, "d", [-1.5e300, 2.5, 0.0]),  # DOUBLE
    (4, 0, "f", [-2.5, 1.0, 0.5]),  # FLOAT (exact in 4 bytes)
    (13, 0x20, "H", [1901, 2155, 2026]),  # YEAR
]


def packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq % 256]) + payload


def row_packets(formats: list[str], rows: list[tuple[Any, ...]], first_seq: int = 3) -> bytes:
    bitmap = bytes((len(formats) + 9) // 8)
    return b"".join(
        packet(first_seq + i, b"\x00" + bitmap + struct.pack("<" + "".join(formats), *row))
        for i, row in enumerate(rows)
    )


EOF_PACKET = b"\xfe\x00\x00\x22\x00"


def read_all(layout: RowLayout, stream: bytes, piece: int) -> tuple[list[list[Any]], int | None]:
    """Feed `stream` `piece` bytes at a time, as the socket would, keeping the unread tail."""
    buf, have, dropped = bytearray(len(stream) + 16), 0, 0
    cols: list[list[Any]] = [[] for _ in layout.names]
    for start in range(0, len(stream), piece):
        part = stream[start : start + piece]
        buf[have : have + len(part)] = part
        have += len(part)
        rows = layout.split(buf, have)
        for acc, col in zip(cols, rows.columns, strict=True):
            acc.extend(col.tolist())
        if rows.end is not None:
            return cols, dropped + rows.end  # where the end packet starts in the stream
        buf[: have - rows.used] = buf[rows.used : have]
        have -= rows.used
        dropped += rows.used
    return cols, None


@pytest.mark.parametrize("piece", [1, 7, 64, 4096])
def test_every_fixed_width_type_reads_back_exactly_whatever_way_the_bytes_arrive(piece: int) -> None:
    formats = [t[2] for t in TYPES]
    layout = RowLayout.of([Column(f"c{i}", code, flags) for i, (code, flags, _, _) in enumerate(TYPES)])
    assert layout.stride == 4 + 1 + (len(TYPES) + 9) // 8 + struct.calcsize("<" + "".join(formats))
    rows = [tuple(t[3][i % 3] for t in TYPES) for i in range(300)]  # sequence ids wrap past 255
    stream = row_packets(formats, rows) + packet(303, EOF_PACKET)
    cols, end = read_all(layout, stream, piece)
    assert [tuple(r) for r in zip(*cols, strict=True)] == rows
    assert end == len(stream) - len(packet(0, EOF_PACKET))


def test_the_block_ends_where_the_first_packet_that_is_not_a_row_starts() -> None:
    layout = RowLayout.of([Column("id", 8, 0), Column("v", 3, 0)])
    rows = row_packets(["q", "i"], [(1, 2), (3, 4), (5, 6)])
    three = 3 * layout.stride
    for tail in (
        packet(9, EOF_PACKET),  # the result's end
        packet(9, b"\xff\x15\x05#HY000boom"),  # an error mid-result
        packet(9, b"\x00\x04" + struct.pack("<q", 7)),  # a row whose INT is NULL: shorter
    ):
        buf = bytearray(rows + tail + bytes(8))
        got = layout.split(buf, len(rows) + len(tail))
        assert (got.count, got.used, got.end) == (3, three, three)
        assert [c.tolist() for c in got.columns] == [[1, 3, 5], [2, 4, 6]]
    # A NULL row followed by more rows: every header is checked, so the rows after it are not read
    # out of step with their packets.
    null_then_rows = (
        rows
        + packet(6, b"\x00\x04" + struct.pack("<q", 0))
        + row_packets(["q", "i"], [(0x0101010101010101, 0x01010101)] * 40, 7)
    )
    got = layout.split(bytearray(null_then_rows), len(null_then_rows))
    assert (got.count, got.end) == (3, three)
    empty = bytearray(packet(1, EOF_PACKET))
    assert layout.split(empty, len(empty)).end == 0
    partial = bytearray(rows[: three - 5])  # an unfinished row: read on
    assert layout.split(partial, len(partial)).end is None


def test_a_row_that_says_it_holds_a_null_is_not_taken_for_a_row() -> None:
    """A NULL bitmap with a bit set at the full length (cannot happen for fixed widths, but the
    reader must never hand over such a value as a number)."""
    layout = RowLayout.of([Column("a", 3, 0), Column("b", 3, 0)])
    bad = packet(1, b"\x00\x04" + struct.pack("<ii", 1, 2))
    buf = bytearray(row_packets(["i", "i"], [(9, 9)]) + bad)
    assert layout.split(buf, len(buf)).end == layout.stride


@pytest.mark.parametrize("code,name", [(253, "VARCHAR"), (246, "DECIMAL"), (12, "DATETIME"), (252, "BLOB")])
def test_a_column_that_is_not_a_fixed_width_number_is_named(code: int, name: str) -> None:
    with pytest.raises(NotFixedWidth, match=r"column 'note' \(MySQL type \d+\) is not a fixed-width number"):
        RowLayout.of([Column("id", 8, 0), Column("note", code, 0)])


def test_parameters_are_bound_with_their_types() -> None:
    """COM_STMT_EXECUTE's body, decoded field by field as the protocol lays it out."""
    params = [5, -3, 2**63 + 1, 1.25, None, "n5' OR '1'='1", b"\x00\xff"]
    body = execute_payload(77, params)
    statement, flags, iterations = struct.unpack_from("<IBI", body)
    assert (statement, flags, iterations) == (77, 0, 1)
    pos = 9
    nulls = body[pos]
    assert nulls == 1 << 4  # the fifth parameter
    assert body[pos + 1] == 1  # types follow
    types = [struct.unpack_from("<BB", body, pos + 2 + 2 * i) for i in range(len(params))]
    assert types == [(8, 0), (8, 0), (8, 0x80), (5, 0), (6, 0), (0xFD, 0), (0xFC, 0)]
    pos += 2 + 2 * len(params)
    a, b, c, d = struct.unpack_from("<qqQd", body, pos)
    assert (a, b, c, d) == (5, -3, 2**63 + 1, 1.25)
    pos += 32
    text = params[5].encode()  # type: ignore[union-attr]
    assert body[pos] == len(text) and body[pos + 1 : pos + 1 + len(text)] == text
    pos += 1 + len(text)
    assert body[pos:] == b"\x02\x00\xff"
    assert execute_payload(3, []) == struct.pack("<IBI", 3, 0, 1)
