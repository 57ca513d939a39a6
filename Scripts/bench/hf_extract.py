#!/usr/bin/env python3
"""PyTorch peer for Lantern's extraction benchmark: what the Python tools do today.

Tokenizes a JSONL corpus with the model's Hugging Face tokenizer, packs documents into windows of
`--context` tokens (BOS first, BOS as separator, as SAELens does), runs the Hugging Face forward pass
truncated after the last hooked layer, captures `blocks.L.hook_resid_post` (the decoder layer's
output) and `blocks.L.mlp.hook_post` (the input of down_proj) with forward hooks, and writes them
as raw float32 arrays (.npy per batch), as SAELens' cache runner does before its Arrow conversion.
Timed end to end (tokenize + forward + write), excluding model load.

    pip install torch transformers==5.23.0 gguf==0.19.0 accelerate numpy
    python Scripts/bench/hf_extract.py --model .models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
        --corpus out/quickstart/corpus/fortunes.jsonl --layer 15 --tokens 32768 --threads 2 --out /tmp/hf-extract

Prints one JSON line: tokens_per_second, seconds, tokens, bytes_written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--layer", type=int, default=15)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=32768)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    path = Path(a.model)
    if path.suffix == ".gguf":
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, torch_dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), torch_dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(str(path))
    model.eval()
    body = model.model
    body.layers = body.layers[: a.layer + 1]
    captured: dict[str, torch.Tensor] = {}
    layer = body.layers[a.layer]
    layer.register_forward_hook(lambda m, i, o: captured.__setitem__("resid_post", o[0] if isinstance(o, tuple) else o))
    layer.mlp.down_proj.register_forward_pre_hook(lambda m, i: captured.__setitem__("mlp_post", i[0]))
    bos = tok.bos_token_id
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    start = time.perf_counter()
    windows: list[list[int]] = []
    current = [bos]
    with open(a.corpus, encoding="utf-8") as f:
        for line in f:
            ids = tok.encode(json.loads(line)["text"], add_special_tokens=False)
            for t in ids + [bos]:
                current.append(t)
                if len(current) == a.context:
                    windows.append(current)
                    current = [bos]
            if len(windows) * a.context >= a.tokens:
                break
    windows = windows[: a.tokens // a.context]
    written = 0
    with torch.inference_mode():
        for b in range(0, len(windows), a.batch):
            ids = torch.tensor(windows[b : b + a.batch])
            body(input_ids=ids)
            for name, t in captured.items():
                arr = t.reshape(-1, t.shape[-1]).float().numpy()
                p = out / f"{name}-{b:08d}.npy"
                np.save(p, arr)
                written += os.path.getsize(p)
    seconds = time.perf_counter() - start
    n = len(windows) * a.context
    print(json.dumps({"tokens_per_second": n / seconds, "seconds": seconds, "tokens": n, "bytes_written": written,
                      "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
