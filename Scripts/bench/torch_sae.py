#!/usr/bin/env python3
"""PyTorch peers for `lantern bench train`: one training step = encode, sparsify, decode, MSE (+ the
architecture's penalty), backward and Adam, timed on real activations, reported as activations/s.

Variants (what people run today, written in plain PyTorch so each is a fair, minimal peer):
  dense-topk     SAELens-style TopK: pre = (x - b_dec) @ W_enc + b_enc, torch.topk, a dense scatter
                 of the k values, x_hat = f @ W_dec + b_dec (dense decode and dense backward), Adam.
  sparse-topk    sparsify-style TopK: the same encode, then a sparse decode of the k active rows
                 (torch.nn.functional.embedding_bag with per-sample weights, whose backward only
                 touches the active decoder rows), Adam.
  sparse-topk-compiled   sparse-topk under torch.compile with Adam(fused=True).
  relu-l1        SAELens "standard": ReLU, L1 weighted by decoder-row norms, dense decode, Adam.
Activations: --npy FILE [N, d] float32 (e.g. `lantern export-npy` of quickstart shards), --shards DIR
(a job's shards/<hook>/ directory, read with Scripts/python/lantern_shards.py), or random normals.

Run: python Scripts/bench/torch_sae.py --variant sparse-topk --shards out/quickstart/job/shards/blocks.15.hook_resid_post \
       --expansion 16 --k 32 --batch-size 4096 --threads 2 --steps 20
Prints one JSON line: variant, activations_per_second, seconds_per_step (median), threads, shapes, torch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch


def load_activations(args: argparse.Namespace, d_in: int) -> torch.Tensor:
    if args.npy:
        return torch.from_numpy(np.load(args.npy).astype(np.float32))
    if args.shards:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
        from lantern_shards import Shard  # numpy + lz4 reader of .lshard files

        parts = []
        for path in sorted(Path(args.shards).glob("*.lshard")):
            with Shard(path) as s:
                parts.append(s.rows())
            if sum(len(p) for p in parts) >= args.max_rows:
                break
        return torch.from_numpy(np.concatenate(parts)[: args.max_rows].astype(np.float32))
    g = torch.Generator().manual_seed(0)
    return torch.randn(args.max_rows, d_in, generator=g)


class SAE(torch.nn.Module):
    def __init__(self, d_in: int, d_sae: int, variant: str, k: int, l1: float):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        w_dec = torch.randn(d_sae, d_in, generator=g)
        w_dec = w_dec / w_dec.norm(dim=1, keepdim=True) * 0.1
        self.W_dec = torch.nn.Parameter(w_dec)
        self.W_enc = torch.nn.Parameter(w_dec.t().clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(d_sae))
        self.b_dec = torch.nn.Parameter(torch.zeros(d_in))
        self.variant, self.k, self.l1 = variant, k, l1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = (x - self.b_dec) @ self.W_enc + self.b_enc
        if self.variant == "relu-l1":
            f = torch.relu(pre)
            x_hat = f @ self.W_dec + self.b_dec
            sparsity = (f * self.W_dec.norm(dim=1)).sum(dim=1).mean()
            return (x_hat - x).pow(2).sum(dim=1).mean() + self.l1 * sparsity
        values, indices = pre.topk(self.k, dim=1, sorted=False)
        values = torch.relu(values)
        if self.variant == "dense-topk":
            f = torch.zeros_like(pre).scatter_(1, indices, values)
            x_hat = f @ self.W_dec + self.b_dec
        else:
            x_hat = torch.nn.functional.embedding_bag(
                indices, self.W_dec, per_sample_weights=values, mode="sum") + self.b_dec
        return (x_hat - x).pow(2).sum(dim=1).mean()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", required=True,
                    choices=["dense-topk", "sparse-topk", "sparse-topk-compiled", "relu-l1"])
    ap.add_argument("--npy")
    ap.add_argument("--shards")
    ap.add_argument("--d-in", type=int, default=576)
    ap.add_argument("--expansion", type=int, default=16)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--l1", type=float, default=5.0)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--max-rows", type=int, default=65536)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = load_activations(args, args.d_in)
    d_in = data.shape[1]
    # Inputs scaled so that E||x||^2 = d_in, as the trainers do.
    data = data * (d_in ** 0.5 / data.norm(dim=1).mean())
    sae = SAE(d_in, d_in * args.expansion, args.variant, args.k, args.l1)
    compiled = args.variant == "sparse-topk-compiled"
    opt = torch.optim.Adam(sae.parameters(), lr=2e-4, fused=compiled or None)
    loss_fn = torch.compile(sae) if compiled else sae

    def step(i: int) -> float:
        start = (i * args.batch_size) % max(1, data.shape[0] - args.batch_size)
        x = data[start:start + args.batch_size]
        t = time.perf_counter()
        loss = loss_fn(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t

    for i in range(args.warmup):
        step(i)
    times = [step(args.warmup + i) for i in range(args.steps)]
    median = statistics.median(times)
    print(json.dumps({
        "variant": args.variant, "activations_per_second": args.batch_size / median,
        "seconds_per_step": median, "threads": args.threads, "d_in": d_in,
        "d_sae": d_in * args.expansion, "k": args.k, "batch_size": args.batch_size,
        "rows": int(data.shape[0]), "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
