#!/usr/bin/env python3
"""Checks lantern_shards.py against the Swift-written fixture shards in Tests/Fixtures/shards.

Every expectation is computed here by numpy from the float32 input the shards were written from
(numpy's float16 cast; bf16 as round-to-nearest-even of the uint32 bit patterns; float64 norms),
and cross-checked against the arrays Scripts/fixtures/make_shard_fixtures.py committed.
Also: random row ranges, side data, verify() against zlib.crc32 of the file, and damaged copies
(truncated, flipped bits) that must raise ShardError.

Run (from the repository root):
    pip install numpy lz4
    python Scripts/python/test_reader.py
Prints "N passed, M failed" and exits non-zero if anything failed.
"""
import pathlib
import sys
import tempfile
import zlib

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import lantern_shards as ls  # noqa: E402

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "Tests/Fixtures/shards"
PAIRS = [("bf16", "plain"), ("bf16", "byte-shuffle"), ("bf16", "bit-shuffle"), ("f16", "byte-shuffle"),
         ("f32", "bit-shuffle")]
passed, failed = 0, 0


def check(name: str, condition: bool, detail: str = "") -> None:
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def raises(name: str, body) -> None:
    try:
        body()
    except ls.ShardError as error:
        check(name, True)
        return str(error)
    except Exception as error:  # noqa: BLE001
        check(name, False, f"raised {type(error).__name__}: {error}")
        return None
    check(name, False, "did not raise")


def numpy_round(x: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "f32":
        return x
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    bits = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint32)
    return (bits << 16).view(np.float32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.astype(np.float32).view(np.uint32))


def main() -> int:
    x = np.load(FIXTURES / "input.npy")
    tokens = np.load(FIXTURES / "tokens.npy")
    n = x.shape[0]
    norms = np.linalg.norm(x.astype(np.float64), axis=1)
    committed = {"bf16": (np.load(FIXTURES / "expected-bf16.npy").astype(np.uint32) << 16).view(np.float32),
                 "f16": np.load(FIXTURES / "expected-f16.npy").astype(np.float32), "f32": x}
    rng = np.random.default_rng(0)
    for dtype, layout in PAIRS:
        tag = f"{dtype}/{layout}"
        path = FIXTURES / f"real-{dtype}-{layout}.lshard"
        expected = numpy_round(x, dtype)
        check(f"{tag} numpy expectation equals committed", same_bits(expected, committed[dtype]))
        with ls.Shard(path) as shard:
            h = shard.header
            check(f"{tag} header", (h.hook, h.architecture, h.dtype, h.layout, h.d, h.row_count, h.rows_per_block,
                                    h.context_size, h.prepend_bos, h.packing, h.unit_id, h.seed)
                  == ("blocks.15.hook_resid_post", "llama", dtype, layout, 576, n, 48, 142, False, "single-text",
                      "fixture-0", 1234), str(h))
            check(f"{tag} provenance", h.provenance.get("rows") == "first 128", str(h.provenance))
            check(f"{tag} weights hash", h.weights_hash.startswith("sha256:b179c952"))
            rows = shard.rows()
            check(f"{tag} all rows", same_bits(rows, expected),
                  f"max diff {np.abs(rows - expected).max() if rows.shape == expected.shape else rows.shape}")
            check(f"{tag} token ids", np.array_equal(shard.token_ids(), tokens))
            check(f"{tag} document ids", np.array_equal(shard.document_ids(), 5_000_000_000 + np.arange(n) // 50))
            check(f"{tag} positions", np.array_equal(shard.positions(), np.arange(n) % 50))
            check(f"{tag} norms", np.allclose(shard.norms(), norms, rtol=2e-6, atol=0))
            for _ in range(8):
                a, b = sorted(rng.integers(0, n + 1, size=2))
                check(f"{tag} rows [{a},{b})", same_bits(shard.rows(a, b), expected[a:b]))
                check(f"{tag} tokens [{a},{b})", np.array_equal(shard.token_ids(a, b), tokens[a:b]))
            streamed = list(shard.iter_blocks())
            check(f"{tag} streaming equals random access",
                  [f for f, _, _ in streamed] == [0, 48, 96]
                  and same_bits(np.concatenate([r for _, r, _ in streamed]), expected)
                  and np.array_equal(np.concatenate([s["token_ids"] for _, _, s in streamed]), tokens))
            raises(f"{tag} range past the end", lambda: shard.rows(100, n + 1))
            whole = f"{zlib.crc32(path.read_bytes()):08x}"
            check(f"{tag} verify returns the file CRC-32", shard.verify() == whole)
    hostile()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def hostile() -> None:
    good = (FIXTURES / "real-bf16-bit-shuffle.lshard").read_bytes()
    with ls.Shard(FIXTURES / "real-bf16-bit-shuffle.lshard") as shard:
        block1 = shard.blocks[1]
    with tempfile.TemporaryDirectory() as tmp:
        bad_path = pathlib.Path(tmp) / "bad.lshard"

        def write(data: bytes) -> pathlib.Path:
            bad_path.write_bytes(data)
            return bad_path

        for length in [0, 5, 8, 19, 20, 60, 1000, len(good) // 2, len(good) - 48, len(good) - 1]:
            raises(f"truncated to {length}", lambda: ls.Shard(write(good[:length])))
        raises("wrong magic", lambda: ls.Shard(write(b"X" + good[1:])))
        raises("wrong version", lambda: ls.Shard(write(good[:8] + b"\x02" + good[9:])))
        for name, offset in [("header", 30), ("index", len(good) - 48 - 10), ("trailer", len(good) - 40)]:
            flipped = bytearray(good)
            flipped[offset] ^= 0x08
            raises(f"flipped bit in {name}", lambda: ls.Shard(write(bytes(flipped))))
        flipped = bytearray(good)
        flipped[block1.data_offset + 100] ^= 0x01
        with ls.Shard(write(bytes(flipped))) as damaged:
            check("flipped block: block 0 still reads", damaged.rows(0, 48).shape == (48, 576))
            message = raises("flipped bit in block 1", lambda: damaged.rows(50, 60))
            check("error names block 1", message is not None and "block 1" in message, str(message))
            raises("verify sees the flip", damaged.verify)


if __name__ == "__main__":
    sys.exit(main())
