#!/usr/bin/env python3
"""The Python reader against the Swift one on the same, freshly extracted shards.

For each shard given, `lantern export-npy SHARD --out PREFIX` has written what the Swift reader
decodes (PREFIX.activations.npy, .tokens.npy, .positions.npy); this script reads the shard with
Scripts/python/lantern_shards.py and requires identical arrays and a passing verify().
Prints "N passed, M failed"; exit status 1 on any failure.

    python Scripts/python/compare_with_swift.py SHARD PREFIX [SHARD PREFIX ...]
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lantern_shards import Shard  # noqa: E402


def main() -> int:
    args = sys.argv[1:]
    if not args or len(args) % 2:
        print(__doc__)
        return 2
    passed = failed = 0
    for shard_path, prefix in zip(args[0::2], args[1::2]):
        with Shard(shard_path) as s:
            s.verify()
            checks = {
                "activations": (s.rows(), np.load(prefix + ".activations.npy")),
                "tokens": (s.token_ids(), np.load(prefix + ".tokens.npy")),
                "positions": (s.positions(), np.load(prefix + ".positions.npy")),
            }
        for name, (python_side, swift_side) in checks.items():
            same = python_side.shape == swift_side.shape and np.array_equal(
                python_side.view(np.uint8), swift_side.astype(python_side.dtype).view(np.uint8))
            if same:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {shard_path} {name}: python {python_side.shape} {python_side.dtype}, "
                      f"swift {swift_side.shape} {swift_side.dtype}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
