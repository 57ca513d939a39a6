#!/usr/bin/env python3
"""Loads Lantern exports with the real sae_lens and compares them with what the Swift side computed.

    /work/saelens/bin/python Scripts/saelens/check_load.py DIR [DIR ...]

Each DIR is a `final/`-style directory (cfg.json, sae_weights.safetensors) holding also
check_inputs.npy (raw activations [B, n*d_in]), check_features.npy (expected latents [B, d_sae]) and
check_outputs.npy (expected reconstructions [B, n*d_out]); the Swift test
StorageExportTests.writesEveryArchitectureForTheSAELensCheck writes them when LANTERN_SAELENS_CHECK_DIR
is set, computing the expectations from the TRAINING-layout dictionary on scaled inputs.

For architectures sae_lens 6.54.12 loads, `SAE.load_from_disk(DIR, device="cpu")` must succeed
unchanged, and `encode` / `forward` (which adds W_skip for skip transcoders) must match. For
Lantern-only architectures (crosscoders, TopK transcoders), load_from_disk must refuse the directory,
and a numpy implementation of docs/dictionary-format.md is compared instead.
Prints one line per directory; exits 1 if any fails.
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file

SAELENS = {"standard", "topk", "jumprelu", "transcoder", "skip_transcoder",
           "jumprelu_transcoder", "jumprelu_skip_transcoder"}
TOL = 1e-4  # relative to the largest magnitude; fp32 on both sides


def close(a, b):
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0), 1e-6)
    return float(np.abs(a - b).max(initial=0) / scale)


def numpy_reference(cfg, w, x):
    """docs/dictionary-format.md semantics on the flat view (crosscoder tensors reshaped)."""
    arch = cfg["architecture"]
    w_enc = w["W_enc"].reshape(-1, cfg["d_sae"])
    w_dec = w["W_dec"].reshape(cfg["d_sae"], -1)
    b_dec = w["b_dec"].reshape(-1)
    sae_in = x - b_dec if cfg.get("apply_b_dec_to_input", True) else x
    h = sae_in @ w_enc + w["b_enc"]
    if arch.startswith("topk"):
        f = np.zeros_like(h)
        idx = np.argsort(-h, axis=1, kind="stable")[:, : cfg["k"]]
        np.put_along_axis(f, idx, np.maximum(np.take_along_axis(h, idx, axis=1), 0), axis=1)
    elif arch.startswith("jumprelu"):
        f = np.maximum(h, 0) * (h > w["threshold"])
    else:
        f = np.maximum(h, 0)
    y = f @ w_dec + b_dec
    if "W_skip" in w:
        y = y + x @ w["W_skip"].T
    return f, y


def check(directory):
    import torch
    from sae_lens import SAE

    with open(os.path.join(directory, "cfg.json")) as fh:
        cfg = json.load(fh)
    arch = cfg["architecture"]
    x = np.load(os.path.join(directory, "check_inputs.npy"))
    want_f = np.load(os.path.join(directory, "check_features.npy"))
    want_y = np.load(os.path.join(directory, "check_outputs.npy"))
    if arch in SAELENS:
        sae = SAE.load_from_disk(directory, device="cpu")
        with torch.no_grad():
            xt = torch.from_numpy(x)
            f = sae.encode(xt).numpy()
            y = sae.forward(xt).numpy()
        loaded = f"sae_lens {type(sae).__name__}"
        version = sae.cfg.metadata.sae_lens_version
        if version != "6.54.12":
            return False, f"{arch}: metadata.sae_lens_version read back as {version!r}"
    else:
        try:
            SAE.load_from_disk(directory, device="cpu")
            return False, f"{arch}: sae_lens loaded a Lantern-only architecture"
        except Exception as error:  # expected: unknown architecture
            refused = type(error).__name__
        f, y = numpy_reference(cfg, load_file(os.path.join(directory, "sae_weights.safetensors")), x)
        loaded = f"numpy reference (sae_lens refuses it: {refused})"
    support = bool(np.array_equal(f != 0, want_f != 0))
    ef, ey = close(f, want_f), close(y, want_y)
    ok = support and ef <= TOL and ey <= TOL
    return ok, (f"{arch:26s} {loaded}: active set {'same' if support else 'DIFFERS'}, "
                f"latents rel err {ef:.1e}, output rel err {ey:.1e}")


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    failures = 0
    for directory in argv:
        try:
            ok, line = check(directory)
        except Exception as error:
            ok, line = False, f"{type(error).__name__}: {error}"
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(os.path.normpath(directory))}: {line}")
    print(f"{len(argv) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
