#!/usr/bin/env python3
"""PyTorch peer for Lantern's forward benchmark: the HF transformers forward pass over the first
N+1 decoder layers (stopping after layer N, as Lantern does when the last hook it needs is there),
fp32 on the CPU, timed over a fixed batch of random token ids.

Run:

    pip install torch transformers==5.23.0 gguf==0.19.0 safetensors accelerate
    python Scripts/bench/hf_forward.py --model /path/to/SmolLM2-135M-Instruct.Q4_1.gguf \
        --batch 8 --seq 128 --stop-after-layer 15 --threads 2 --repeats 5

--model is a .gguf file (transformers dequantizes it to fp32 on load) or an HF model directory.
Prints one JSON line: tokens_per_second, seconds_per_batch (median of the repeats), threads, batch,
seq, stop_after_layer, torch. Leaves out: the final norm and LM head (never run), KV caches, and
the time to load and dequantize the model. Attention uses transformers' default (SDPA) kernel.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM


def load(model_arg: str) -> torch.nn.Module:
    path = Path(model_arg)
    if path.suffix == ".gguf":
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return model.eval()


def truncated_body(model: torch.nn.Module, stop_after_layer: int) -> torch.nn.Module:
    """The decoder body with only layers 0...stop_after_layer and no final norm (no LM head)."""
    keep = stop_after_layer + 1
    if hasattr(model, "transformer"):  # GPT-2 style
        body = model.transformer
        if keep > len(body.h):
            raise SystemExit(f"--stop-after-layer {stop_after_layer}: the model has {len(body.h)} layers")
        body.h = torch.nn.ModuleList(body.h[:keep])
        body.ln_f = torch.nn.Identity()
    else:  # Llama / Qwen2 style
        body = model.model
        if keep > len(body.layers):
            raise SystemExit(f"--stop-after-layer {stop_after_layer}: the model has {len(body.layers)} layers")
        body.layers = torch.nn.ModuleList(body.layers[:keep])
        body.norm = torch.nn.Identity()
    config = body.config
    config.num_hidden_layers = keep
    if getattr(config, "layer_types", None):
        config.layer_types = config.layer_types[:keep]
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description="HF transformers forward-pass benchmark (fp32, CPU)")
    parser.add_argument("--model", required=True, help=".gguf file or HF model directory")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--stop-after-layer", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if min(args.batch, args.seq, args.threads, args.repeats) < 1 or args.stop_after_layer < 0 or args.warmup < 0:
        raise SystemExit("batch, seq, threads and repeats must be >= 1; stop-after-layer and warmup >= 0")

    torch.set_num_threads(args.threads)
    body = truncated_body(load(args.model), args.stop_after_layer)
    generator = torch.Generator().manual_seed(args.seed)
    tokens = torch.randint(0, body.config.vocab_size, (args.batch, args.seq), generator=generator)

    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.repeats):
            start = time.perf_counter()
            out = body(input_ids=tokens, use_cache=False).last_hidden_state
            elapsed = time.perf_counter() - start
            assert out.shape == (args.batch, args.seq, body.config.hidden_size)
            if i >= args.warmup:
                times.append(elapsed)
    seconds = statistics.median(times)
    print(json.dumps({
        "tokens_per_second": args.batch * args.seq / seconds,
        "seconds_per_batch": seconds,
        "threads": args.threads,
        "batch": args.batch,
        "seq": args.seq,
        "stop_after_layer": args.stop_after_layer,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
