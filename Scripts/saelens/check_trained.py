#!/usr/bin/env python3
"""Loads a dictionary `lantern train` wrote with the real sae_lens and measures it on raw activations.

    /work/saelens/bin/python Scripts/saelens/check_trained.py out/quickstart/sae/final \
        out/quickstart/job/shards/blocks.15.hook_resid_post [--max-rows 32768]

`SAE.load_from_disk(DIR)` must load the directory unchanged; then, on the raw (unscaled) shard rows
read with Scripts/python/lantern_shards.py (special tokens — the rows at position 0, BOS — and rows
above 10x the median norm dropped, as training does by default), it prints sae_lens' own L0 and the
fraction of variance unexplained (1 - explained variance, SAELens 6.54 evals.py formula: sums over all
rows in float64, the mean over all rows). Lantern's held-out FVU in train.txt / cfg.json metadata should
be close (the rows here include training rows, so slightly lower is expected).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sae_lens import SAE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from lantern_shards import Shard  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("final")
    ap.add_argument("shards")
    ap.add_argument("--max-rows", type=int, default=32768)
    args = ap.parse_args()
    sae = SAE.load_from_disk(args.final, device="cpu")
    cfg = json.loads((Path(args.final) / "cfg.json").read_text())
    rows, positions = [], []
    for path in sorted(Path(args.shards).glob("*.lshard")):
        with Shard(path) as s:
            rows.append(s.rows())
            positions.append(s.positions())
        if sum(len(r) for r in rows) >= args.max_rows:
            break
    x = np.concatenate(rows)[: args.max_rows].astype(np.float32)
    pos = np.concatenate(positions)[: args.max_rows]
    norms = np.linalg.norm(x, axis=1)
    keep = (pos != 0) & (norms <= 10 * np.median(norms))
    x = torch.from_numpy(x[keep])
    with torch.no_grad():
        f = sae.encode(x)
        x_hat = sae.decode(f)
    x64, r64 = x.double(), x_hat.double()
    fvu = ((x64 - r64) ** 2).sum() / ((x64 - x64.mean(0)) ** 2).sum()
    l0 = (f != 0).float().sum(1).mean()
    print(json.dumps({
        "loaded": type(sae).__name__, "architecture": cfg["architecture"], "rows": int(x.shape[0]),
        "l0": float(l0), "fvu": float(fvu), "explained_variance": float(1 - fvu),
        "lantern_held_out_fvu": cfg.get("metadata", {}).get("training_architecture_details", {}).get("held_out_fvu"),
    }))


if __name__ == "__main__":
    main()
