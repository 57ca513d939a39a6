#!/usr/bin/env python3
"""Records, with sae_lens itself, the state-dict keys + shapes and the cfg keys of every SAELens
architecture Lantern exports, into Tests/Fixtures/saelens/keysets.json.

The Swift test StorageKeysetTests compares the exporter's output against this file (in CI, without
Python). Regenerate with the pinned stack:

    python3 -m venv /work/saelens
    /work/saelens/bin/pip install sae-lens==6.54.12 transformer-lens==3.9.0
    /work/saelens/bin/python Scripts/saelens/make_keyset_fixture.py

Sizes are small and fixed (d_in 6, d_out 5, d_sae 12, k 3); shapes are recorded with the symbols
replaced by names ("d_in", "d_out", "d_sae") so the Swift test can check other sizes too.
"""
import dataclasses
import inspect
import json
import os
import re
import sys

import sae_lens
from sae_lens import SAE
from sae_lens.saes.sae import SAEConfig
from sae_lens.registry import get_sae_class
from sae_lens.llm_sae_training_runner import LanguageModelSAETrainingRunner

D_IN, D_OUT, D_SAE, K = 6, 5, 12, 3
SYMBOLS = {D_IN: "d_in", D_OUT: "d_out", D_SAE: "d_sae"}

ARCHITECTURES = [
    "standard", "topk", "jumprelu", "transcoder", "skip_transcoder",
    "jumprelu_transcoder", "jumprelu_skip_transcoder",
]


def config_for(arch):
    sae_class, cfg_class = get_sae_class(arch)
    kwargs = {"d_in": D_IN, "d_sae": D_SAE}
    names = {f.name for f in dataclasses.fields(cfg_class)}
    if "d_out" in names:
        kwargs["d_out"] = D_OUT
        kwargs["apply_b_dec_to_input"] = False
    if "k" in names:
        kwargs["k"] = K
    return sae_class, cfg_class, cfg_class(**kwargs)


def symbolic(shape):
    return [SYMBOLS.get(d, d) for d in shape]


def main():
    assert sae_lens.__version__ == "6.54.12", sae_lens.__version__
    out = {"sae_lens_version": sae_lens.__version__,
           "sizes": {"d_in": D_IN, "d_out": D_OUT, "d_sae": D_SAE, "k": K},
           "architectures": {}}
    for arch in ARCHITECTURES:
        sae_class, cfg_class, cfg = config_for(arch)
        sae = sae_class(cfg)
        state = {name: symbolic(list(t.shape)) for name, t in sae.state_dict().items()}
        fields = dataclasses.fields(cfg_class)
        required = sorted(f.name for f in fields
                          if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        cfg_dict = cfg.to_dict()
        out["architectures"][arch] = {
            "state_dict": dict(sorted(state.items())),
            "cfg_keys": sorted(cfg_dict.keys()),
            "cfg_required_keys": sorted(set(required) | {"architecture"}),
            "metadata_keys": sorted(cfg_dict["metadata"].keys()),
        }
    # The metadata keys SAELens's own training runner fills (read from its source, not guessed).
    source = inspect.getsource(LanguageModelSAETrainingRunner._set_sae_metadata)
    out["runner_metadata_keys"] = sorted(set(re.findall(r"self\.sae\.cfg\.metadata\.(\w+) =", source)))
    path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "saelens", "keysets.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)} ({len(ARCHITECTURES)} architectures)", file=sys.stderr)


if __name__ == "__main__":
    main()
