"""Read Lantern activation shards (.lshard) with numpy and the `lz4` package only.

    pip install numpy lz4

    import lantern_shards as ls
    with ls.Shard("shards/blocks.15.hook_resid_post/unit-7.lshard") as shard:
        print(shard.header)                 # hook, model identity, dtype, layout, d, rows, ...
        x = shard.rows()                    # float32 (rows, d)
        part = shard.rows(1000, 2000)       # rows [1000, 2000)
        tokens = shard.token_ids()          # int32; also document_ids() int64, positions() int32,
        norms = shard.norms()               # float32 L2 norms of the float32 rows before rounding
        for first, rows, side in shard.iter_blocks(): ...   # streaming, one block at a time
        shard.verify()                      # every checksum; returns the file's CRC-32 as hex

The byte layout is specified in docs/shard-format.md (and at the top of ShardReader.swift).
Opening validates the preamble, header, trailer and index like the Swift reader; every error is
a ShardError naming the file, section, block and offset. Decoding bit-shuffled blocks uses
numpy's unpackbits/packbits and is slower than the Swift reader; it is meant for inspection and
notebooks, not for training-speed streaming.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field

import lz4.frame
import numpy as np

MAGIC = b"\x89LSHARD\n"
END_MAGIC = b"LSHDEND\n"
VERSION = 1
PREAMBLE = 20
ENTRY = 64
TRAILER = 48
SIDE_BYTES_PER_ROW = 20
MAX_HEADER = 1 << 20
MAX_WIDTH = 1 << 20
MAX_BLOCK_BYTES = 64 << 20
MAX_ROWS = 1 << 40
MIN_FRAME = 23
BIT_CHUNK = 4096
DTYPES = {0: ("f32", 4), 1: ("f16", 2), 2: ("bf16", 2)}
WORDS = {"f32": np.dtype("<u4"), "f16": np.dtype("<u2"), "bf16": np.dtype("<u2")}
LAYOUTS = {0: "plain", 1: "byte-shuffle", 2: "bit-shuffle"}


class ShardError(Exception):
    """A malformed, truncated or damaged shard (or a bad request)."""

    def __init__(self, path: str, message: str, hint: str = "re-extract this unit"):
        super().__init__(f"{path}: {message} ---> HINT: {hint}")
        self.path = path


@dataclass
class Header:
    hook: str
    architecture: str
    weights_hash: str
    tokenizer_hash: str
    dtype: str
    layout: str
    d: int
    rows_per_block: int
    row_count: int
    context_size: int
    prepend_bos: bool
    packing: str
    unit_id: str
    seed: int
    provenance: dict = field(default_factory=dict)


@dataclass
class Block:
    first_row: int
    row_count: int
    data_crc: int
    data_offset: int
    data_size: int
    data_raw: int
    side_offset: int
    side_size: int
    side_raw: int
    side_crc: int


def _lz4_bound(n: int) -> int:
    # Generous upper bound of an LZ4 frame of n bytes (stored blocks + per-block overhead).
    return n + (n // (64 << 10) + 2) * 8 + 64


def bit_unshuffle(planes: np.ndarray, count: int, size: int) -> np.ndarray:
    """Inverse bit shuffle (layout in docs/shard-format.md): bytes of `count` elements of `size` bytes."""
    src = np.frombuffer(planes, dtype=np.uint8)
    out = np.empty(count * size, dtype=np.uint8)
    start = 0
    while count - start >= 8:
        c = min(BIT_CHUNK, (count - start) // 8 * 8)
        chunk = src[start * size:(start + c) * size].reshape(8 * size, c // 8)
        bits = np.unpackbits(chunk, axis=1, bitorder="little")  # (8·size, c): plane × element
        out[start * size:(start + c) * size] = np.packbits(bits.T, axis=1, bitorder="little").reshape(-1)
        start += c
    out[start * size:] = src[start * size:count * size]
    return out


def to_float32(stored: np.ndarray, dtype: str) -> np.ndarray:
    """Stored element bit patterns (uint16 / uint32) → float32."""
    if dtype == "f32":
        return stored.view(np.float32)
    if dtype == "f16":
        return stored.view(np.float16).astype(np.float32)
    return (stored.astype(np.uint32) << 16).view(np.float32)


class Shard:
    """An open shard: validated header, trailer and index; blocks decoded on demand."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._file = open(self.path, "rb")
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            self._open()
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Shard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- opening ---------------------------------------------------------------------------

    def _fail(self, message: str, hint: str = "the shard is corrupt or incomplete; re-extract this unit"):
        raise ShardError(self.path, message, hint)

    def _read(self, offset: int, n: int, section: str) -> bytes:
        if offset + n > self.size:
            self._fail(f"{section} at offset {offset} needs {n} bytes but the file has only {self.size}")
        self._file.seek(offset)
        data = self._file.read(n)
        if len(data) != n:
            self._fail(f"{section} at offset {offset}: short read")
        return data

    def _open(self) -> None:
        head = self._read(0, min(self.size, PREAMBLE), "preamble")
        if head[:8] != MAGIC[:len(head[:8])]:
            self._fail(f"bad magic {head[:8].hex(' ')}, expected an .lshard file", "check the path")
        if self.size < PREAMBLE:
            self._fail(f"preamble at offset 0 needs {PREAMBLE} bytes but the file has only {self.size}")
        version, hlen, hcrc = struct.unpack_from("<III", head, 8)
        if version != VERSION:
            self._fail(f"format version {version} is not supported (this reader reads {VERSION})")
        if hlen > MAX_HEADER:
            self._fail(f"header length {hlen} at offset 12 exceeds {MAX_HEADER}")
        header = self._read(PREAMBLE, hlen, "header")
        if zlib.crc32(header) != hcrc:
            self._fail("header at offset 20: CRC-32 mismatch")
        self.header = self._parse_header(header)
        self._prefix = head + header
        header_end = PREAMBLE + hlen

        if self.size < header_end + TRAILER:
            self._fail(f"trailer at offset {self.size} needs {TRAILER} bytes (the file is truncated)")
        t_off = self.size - TRAILER
        trailer = self._read(t_off, TRAILER, "trailer")
        if trailer[40:] != END_MAGIC:
            self._fail("no end marker: the file is truncated or its writer never finished")
        index_offset, block_count, row_count, index_crc, body_crc, reserved, trailer_crc = struct.unpack_from(
            "<QQQIIII", trailer)
        if zlib.crc32(trailer[:36]) != trailer_crc:
            self._fail(f"trailer at offset {t_off}: CRC-32 mismatch")
        h = self.header
        expected_blocks = -(-h.row_count // h.rows_per_block)
        if reserved != 0 or row_count != h.row_count or block_count != expected_blocks:
            self._fail(f"trailer at offset {t_off}: counts contradict the header")
        if index_offset < header_end or index_offset + block_count * ENTRY != t_off:
            self._fail(f"trailer at offset {t_off}: the index does not end at the trailer")
        index = self._read(index_offset, block_count * ENTRY, "index")
        if zlib.crc32(index) != index_crc:
            self._fail(f"index at offset {index_offset}: CRC-32 mismatch")
        self._index, self._trailer, self._body_crc = index, trailer, body_crc
        self.blocks = self._parse_index(index, header_end, index_offset)

    def _parse_header(self, b: bytes) -> Header:
        pos = 0

        def take(fmt: str, name: str):
            nonlocal pos
            n = struct.calcsize(fmt)
            if pos + n > len(b):
                self._fail(f"header field {name} at offset {PREAMBLE + pos} runs past the header")
            (value,) = struct.unpack_from(fmt, b, pos)
            pos += n
            return value

        def string(name: str) -> str:
            nonlocal pos
            n = take("<I", name + " length")
            if pos + n > len(b):
                self._fail(f"{name} length {n} at offset {PREAMBLE + pos - 4} exceeds the header")
            raw = b[pos:pos + n]
            pos += n
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                self._fail(f"header field {name} is not valid UTF-8")

        hook, arch, whash, thash = (string(n) for n in ("hook", "architecture", "weights hash", "tokenizer hash"))
        dtype, layout, reserved = take("<B", "dtype"), take("<B", "layout"), take("<H", "reserved")
        if dtype not in DTYPES or layout not in LAYOUTS or reserved != 0:
            self._fail(f"header: unknown dtype {dtype} / layout {layout} / reserved {reserved}")
        d, rpb, rows = take("<I", "d"), take("<I", "rows per block"), take("<Q", "row count")
        if not 1 <= d <= MAX_WIDTH or rpb < 1 or rpb * d * DTYPES[dtype][1] > MAX_BLOCK_BYTES or rows > MAX_ROWS:
            self._fail(f"header: d {d}, rows per block {rpb} or row count {rows} out of range")
        ctx, bos = take("<I", "context size"), take("<B", "prepend BOS")
        if bos > 1:
            self._fail(f"header: prepend BOS is {bos}")
        packing, unit, seed = string("packing"), string("unit id"), take("<Q", "seed")
        count = take("<I", "provenance count")
        provenance, previous = {}, None
        for _ in range(count):
            key, value = string("provenance key"), string("provenance value")
            if previous is not None and not previous < key.encode():
                self._fail(f"provenance key {key!r} is out of order or repeated")
            previous = key.encode()
            provenance[key] = value
        if pos != len(b):
            self._fail(f"header: {len(b) - pos} unknown bytes after the last field")
        return Header(hook, arch, whash, thash, DTYPES[dtype][0], LAYOUTS[layout], d, rpb, rows, ctx, bos == 1,
                      packing, unit, seed, provenance)

    def _parse_index(self, index: bytes, start: int, index_offset: int) -> list[Block]:
        h = self.header
        size = self.element_size
        blocks, cursor = [], start
        for i in range(len(index) // ENTRY):
            e = Block(*struct.unpack_from("<QIIQQQQIII", index, i * ENTRY))
            reserved = struct.unpack_from("<I", index, i * ENTRY + 60)[0]
            rows = min(h.rows_per_block, h.row_count - i * h.rows_per_block)
            ok = (e.first_row == i * h.rows_per_block and e.row_count == rows and reserved == 0
                  and e.data_raw == rows * h.d * size and e.side_raw == rows * SIDE_BYTES_PER_ROW
                  and MIN_FRAME <= e.data_size <= _lz4_bound(e.data_raw)
                  and MIN_FRAME <= e.side_size <= _lz4_bound(e.side_raw)
                  and e.data_offset == cursor and e.side_offset == e.data_offset + e.data_size
                  and e.side_offset + e.side_size <= index_offset)
            if not ok:
                self._fail(f"index entry of block {i} at offset {index_offset + i * ENTRY} is inconsistent")
            cursor = e.side_offset + e.side_size
            blocks.append(e)
        if cursor != index_offset:
            self._fail(f"{index_offset - cursor} bytes between the last block and the index")
        return blocks

    # -- decoding --------------------------------------------------------------------------

    @property
    def element_size(self) -> int:
        return 4 if self.header.dtype == "f32" else 2

    @property
    def row_count(self) -> int:
        return self.header.row_count

    def _frame(self, i: int, offset: int, size: int, crc: int, raw: int, section: str) -> bytes:
        stored = self._read(offset, size, f"{section} of block {i}")
        if zlib.crc32(stored) != crc:
            self._fail(f"{section} of block {i} at offset {offset}: CRC-32 mismatch",
                       "the shard's bytes changed after writing; re-extract this unit")
        # The Swift writer always sets both flags; FLG bits 4 (block checksum) and 2 (content checksum).
        if len(stored) < 7 or stored[4] & 0b0001_0100 != 0b0001_0100:
            self._fail(f"{section} of block {i} at offset {offset}: LZ4 frame lacks its checksums")
        try:
            data = lz4.frame.decompress(stored)
        except RuntimeError as error:
            self._fail(f"{section} of block {i} at offset {offset} does not decode: {error}")
        if len(data) != raw:
            self._fail(f"{section} of block {i} decoded to {len(data)} bytes, expected {raw}")
        return data

    def block_rows(self, i: int) -> np.ndarray:
        """Block i's activations as float32 (n, d)."""
        b, h = self.blocks[i], self.header
        raw = self._frame(i, b.data_offset, b.data_size, b.data_crc, b.data_raw, "block data")
        n, size = b.row_count * h.d, self.element_size
        word = WORDS[h.dtype]
        if h.layout == "plain":
            stored = np.frombuffer(raw, dtype=word)
        elif h.layout == "byte-shuffle":
            stored = np.frombuffer(raw, dtype=np.uint8).reshape(size, n).T.copy().view(word).reshape(-1)
        else:
            stored = bit_unshuffle(raw, n, size).view(word)
        return to_float32(stored, h.dtype).reshape(b.row_count, h.d)

    def block_side(self, i: int) -> dict[str, np.ndarray]:
        """Block i's side data: document_ids int64, token_ids int32, positions int32, norms float32."""
        b = self.blocks[i]
        raw = self._frame(i, b.side_offset, b.side_size, b.side_crc, b.side_raw, "side data")
        n = b.row_count
        return {
            "document_ids": np.frombuffer(raw, "<i8", n, 0),
            "token_ids": np.frombuffer(raw, "<i4", n, 8 * n),
            "positions": np.frombuffer(raw, "<i4", n, 12 * n),
            "norms": np.frombuffer(raw, "<f4", n, 16 * n),
        }

    def iter_blocks(self):
        """Yields (first_row, rows float32 (n, d), side dict) block by block, one block in memory."""
        for i, b in enumerate(self.blocks):
            yield b.first_row, self.block_rows(i), self.block_side(i)

    def _span(self, start: int, stop: int | None):
        stop = self.row_count if stop is None else stop
        if not 0 <= start <= stop <= self.row_count:
            raise ShardError(self.path, f"rows [{start}, {stop}) are outside the shard's {self.row_count} rows",
                             "ask for rows inside the shard")
        rpb = self.header.rows_per_block
        first, last = start // rpb, (stop - 1) // rpb if stop > start else start // rpb - 1
        return start, stop, range(first, last + 1)

    def rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Activations of rows [start, stop) as float32 (n, d)."""
        start, stop, blocks = self._span(start, stop)
        parts = [self.block_rows(i)[max(start, b.first_row) - b.first_row:min(stop, b.first_row + b.row_count) - b.first_row]
                 for i, b in ((i, self.blocks[i]) for i in blocks)]
        return np.concatenate(parts) if parts else np.zeros((0, self.header.d), np.float32)

    def _side(self, name: str, start: int, stop: int | None) -> np.ndarray:
        start, stop, blocks = self._span(start, stop)
        parts = []
        for i in blocks:
            b = self.blocks[i]
            parts.append(self.block_side(i)[name][max(start, b.first_row) - b.first_row:
                                                  min(stop, b.first_row + b.row_count) - b.first_row])
        dtype = {"document_ids": np.int64, "token_ids": np.int32, "positions": np.int32, "norms": np.float32}[name]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    def token_ids(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self._side("token_ids", start, stop)

    def document_ids(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self._side("document_ids", start, stop)

    def positions(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self._side("positions", start, stop)

    def norms(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """L2 norms of the float32 rows as the writer received them (before rounding to dtype)."""
        return self._side("norms", start, stop)

    def verify(self) -> str:
        """Decodes every block (CRC-32 and LZ4 checksums) and checks the body CRC-32 in the
        trailer; returns the CRC-32 of the whole file as 8 hex digits (the manifest's checksum)."""
        crc = zlib.crc32(self._prefix)
        for i, b in enumerate(self.blocks):
            self.block_rows(i)
            self.block_side(i)
            crc = zlib.crc32(self._read(b.data_offset, b.data_size + b.side_size, f"block {i}"), crc)
        crc = zlib.crc32(self._index, crc)
        if crc != self._body_crc:
            self._fail("file body: CRC-32 mismatch")
        return f"{zlib.crc32(self._trailer, crc):08x}"
