#!/usr/bin/env python3
"""PyTorch peer for `lantern bench gemm`: torch.nn.functional.linear (out = inp @ W.T, fp32, CPU) on
the same shapes (the SmolLM2-135M forward at 1,024 tokens and a 16x SAE encoder at batch 4,096), best
of N timed calls per shape, with torch.set_num_threads(threads).

Run: python Scripts/bench/torch_gemm.py --threads 2 [--repeats 20]
Prints one JSON line: {"torch": version, "blas": what torch was built with, "threads": t,
"shapes": [{"shape", "m", "n", "k", "gflops"}, ...]}.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

SHAPES = [
    ("attn q/o 1024x576x576", 1024, 576, 576),
    ("attn k/v 1024x192x576", 1024, 192, 576),
    ("mlp gate/up 1024x1536x576", 1024, 1536, 576),
    ("mlp down 1024x576x1536", 1024, 576, 1536),
    ("sae encoder 4096x9216x576", 4096, 9216, 576),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    rows = []
    with torch.inference_mode():
        for name, m, n, k in SHAPES:
            a = torch.rand(m, k, generator=g) - 0.5
            w = torch.rand(n, k, generator=g) - 0.5
            torch.nn.functional.linear(a, w)
            best = float("inf")
            reps = max(3, args.repeats * 1024 * 576 // (m * n // 4))
            for _ in range(reps):
                t = time.perf_counter()
                torch.nn.functional.linear(a, w)
                best = min(best, time.perf_counter() - t)
            rows.append({"shape": name, "m": m, "n": n, "k": k, "gflops": 2.0 * m * n * k / best / 1e9})
    config = torch.__config__.show()
    blas = "mkl" if "USE_MKL=ON" in config or "MKL" in config else "other"
    print(json.dumps({"torch": torch.__version__, "blas": blas, "threads": args.threads, "shapes": rows}))


if __name__ == "__main__":
    main()
