#!/usr/bin/env python3
"""The real Python trainers as peers for `lantern bench train`: SAELens and EleutherAI's sparsify,
each driven through its OWN training loop on CPU, on cached activations read from an .npy file,
timed per step after warm-up and reported as activations/s (one JSON line).

Trainers (--trainer):
  saelens-topk      sae_lens.training.sae_trainer.SAETrainer.fit() with a TopKTrainingSAE (its defaults:
                    rescale_acts_by_decoder_norm, dense TopK activations, decoder_init_norm 0.1,
                    AuxK coefficient 1), Adam, grad-norm clipping, constant LR.
  saelens-standard  the same SAETrainer.fit() with a StandardTrainingSAE (ReLU, L1 weighted by decoder
                    row norms, --l1 coefficient).
  sparsify-topk     sparsify.Trainer.fit() (eai-sparsify) with a SparseCoder (fused_encoder: linear +
                    ReLU + topk with the index_add backward; decoder_impl: the eager embedding_bag,
                    since its Triton decoder is GPU-only), loss "fvu", its default optimizer
                    (signum = ScheduleFreeWrapper(SignSGD)) or --optimizer adam. sparsify's Trainer
                    trains inside a forward hook on a Hugging Face model, so the "model" here is a
                    stand-in PreTrainedModel whose one module, layers.0, looks up cached activation rows
                    by the token ids the DataLoader hands it: the hook, the SAE step, the optimizer and
                    all of the trainer's bookkeeping are sparsify's own; no language model runs.
What is timed: the wall time between the starts of consecutive training steps inside the trainer's own
loop (so one full iteration: forward, loss, backward, optimizer, the trainer's per-step bookkeeping and
fetching the next batch), median over --steps steps after --warmup steps. One extra step runs at the
end so that every timed interval is a whole iteration. The trainers' one-off work (SAELens's
norm-scaling estimate, sparsify's b_dec initialisation on step 0) happens before the timed steps.
Disabled: wandb, evals, checkpoints, progress bars (SAELens: n_checkpoints 0, save_final_checkpoint
False, log_to_wandb False; sparsify: log_to_wandb False, save_every huge, the final save() replaced by
a no-op).
Not drivable here: SAELens's use_sparse_activations=True (--sparse-activations): with torch 2.15 on CPU
its backward raises NotImplementedError (aten::view on the SparseCPU backend).
Not exercised: the AuxK dead-latent loss of both TopK trainers (SAELens computes it only once a latent
has not fired for dead_feature_window = 1000 steps; sparsify's default auxk_alpha is 0).
Inputs: SAELens normalises with its own option normalize_activations="expected_average_only_in"
(scale = sqrt(d_in) / mean ||x||, estimated by fit() from the data provider); sparsify has no such
option, so its rows are scaled the same way here before training.
Precision: float32 throughout. sparsify's fit() calls torch.set_float32_matmul_precision("high"), which
on CPU asks oneDNN for TF32 fp32 matmuls where the CPU supports them (on the bench machine, a Xeon with
AMX-BF16 but no AMX-FP16, F.linear and @ gave bit-identical results either way); the JSON records it.

Run: /work/saelens/bin/python Scripts/bench/real_trainers.py --trainer saelens-topk --npy out/bench/resid15.npy \
       --expansion 16 --k 32 --batch-size 4096 --threads 2 --steps 6
     /work/sparsify/bin/python Scripts/bench/real_trainers.py --trainer sparsify-topk --npy out/bench/resid15.npy
Prints one JSON line: trainer, package, version, torch, activations_per_second, seconds_per_step
(median), threads, float32_matmul_precision, d_in, d_sae, k, optimizer, input_scale, what_is_timed,
batch_size, steps, warmup, rows, and loss_first / loss_last (the trainer's own loss on its first and
last step: a check that it trained, not a quality figure). Everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from importlib.metadata import version

# Before torch/tqdm/wandb are imported: no progress bars, no wandb, no Triton (GPU-only) decoder.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def load_rows(path: str, max_rows: int) -> torch.Tensor:
    data = np.load(path, mmap_mode="r")
    if data.ndim != 2:
        sys.exit(f"real_trainers: {path} has shape {data.shape}, expected [N, d_in] ---> HINT: export "
                 "with `lantern export-npy SHARD --out PREFIX` and pass PREFIX.activations.npy")
    rows = data[:max_rows] if max_rows > 0 else data
    return torch.from_numpy(np.array(rows, dtype=np.float32))  # a writable copy


def batches(data: torch.Tensor, batch_size: int):
    """Endless [batch, d_in] views walking through the rows (wrapping around)."""
    n = data.shape[0]
    start = 0
    while True:
        if start + batch_size > n:
            start = 0
        yield data[start:start + batch_size]
        start += batch_size


class StepClock:
    """Records the time at the start of every training step; intervals are whole iterations."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.losses: list[torch.Tensor] = []  # read (.item()) only after training

    def wrap(self, fn):
        def timed(*args, **kwargs):
            self.starts.append(time.perf_counter())
            return fn(*args, **kwargs)
        return timed

    def intervals(self, warmup: int, steps: int) -> list[float]:
        s = self.starts
        if len(s) < warmup + steps + 1:
            sys.exit(f"real_trainers: the trainer ran {len(s)} steps, expected {warmup + steps + 1} "
                     "---> HINT: is the .npy big enough for one batch?")
        return [s[i + 1] - s[i] for i in range(warmup, warmup + steps)]


def run_saelens(args: argparse.Namespace, data: torch.Tensor) -> dict:
    from sae_lens import (StandardTrainingSAE, StandardTrainingSAEConfig, TopKTrainingSAE,
                          TopKTrainingSAEConfig)
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    d_in = data.shape[1]
    d_sae = d_in * args.expansion
    common = dict(d_in=d_in, d_sae=d_sae, dtype="float32", device="cpu",
                  normalize_activations="expected_average_only_in")
    if args.trainer == "saelens-topk":
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(
            k=args.k, use_sparse_activations=args.sparse_activations, **common))
        arch = (f"TopKTrainingSAE (k {args.k}, rescale_acts_by_decoder_norm, "
                f"{'sparse COO' if args.sparse_activations else 'dense'} activations)")
    else:
        sae = StandardTrainingSAE(StandardTrainingSAEConfig(l1_coefficient=args.l1, **common))
        arch = f"StandardTrainingSAE (ReLU, L1 {args.l1} weighted by decoder norms)"
    total_steps = args.warmup + args.steps + 1
    cfg = SAETrainerConfig(
        total_training_samples=total_steps * args.batch_size,
        train_batch_size_samples=args.batch_size,
        lr=args.lr, lr_end=args.lr, lr_scheduler_name="constant", device="cpu", autocast=False,
        n_checkpoints=0, checkpoint_path=None, save_final_checkpoint=False,
        logger=LoggingConfig(log_to_wandb=False),
        n_batches_for_norm_estimate=max(1, min(args.norm_batches, data.shape[0] // args.batch_size)),
    )
    trainer = SAETrainer(cfg=cfg, sae=sae, data_provider=batches(data, args.batch_size))
    clock = StepClock()
    step = clock.wrap(trainer.step)
    scale: list[float | None] = []

    def step_and_record(batch: torch.Tensor):
        out = step(batch)
        clock.losses.append(out.loss.detach())
        scale[:] = [trainer.activation_scaler.scaling_factor]
        return out

    trainer.step = step_and_record
    trainer.fit()
    return dict(
        package="sae-lens", version=version("sae-lens"), d_in=d_in, d_sae=d_sae,
        k=args.k if args.trainer == "saelens-topk" else None, optimizer="Adam (torch.optim)",
        times=clock.intervals(args.warmup, args.steps), losses=clock.losses,
        input_scale=scale[0] if scale else None,
        what_is_timed=(
            f"SAETrainer.fit() on an iterator of [batch, d_in] CPU tensors, {arch}: interval between "
            "the starts of consecutive SAETrainer.step calls = activation scaling, "
            "training_forward_pass (encode, decode, MSE + aux/L1 losses), firing statistics, "
            "backward, clip_grad_norm_, Adam step, zero_grad, LR and coefficient schedulers, the "
            "loop's bookkeeping and next(data_provider)"
            + ("; AuxK not exercised (no dead latents yet)" if args.trainer == "saelens-topk" else "")),
    )


def run_sparsify(args: argparse.Namespace, data: torch.Tensor) -> dict:
    from torch import nn
    from transformers import PretrainedConfig, PreTrainedModel

    import sparsify.trainer
    from sparsify import SparseCoderConfig, Trainer, TrainConfig
    from sparsify import utils as sparsify_utils

    # Its progress bar ignores TQDM_DISABLE (fit() passes disable= itself): force it off.
    bar = sparsify.trainer.tqdm
    sparsify.trainer.tqdm = lambda *a, **kw: bar(*a, **{**kw, "disable": True})

    n, d_in = data.shape
    seq = min(args.seq_len, args.batch_size)
    if args.batch_size % seq != 0:
        sys.exit(f"real_trainers: --batch-size {args.batch_size} is not a multiple of --seq-len {seq} "
                 "---> HINT: sparsify batches whole sequences; pick a batch that is a multiple")
    # sparsify has no input normalisation: scale the rows as SAELens's expected_average_only_in does.
    table = data * (d_in ** 0.5 / data.norm(dim=1).mean())

    class CachedConfig(PretrainedConfig):
        model_type = "lantern-cached-activations"

    class Lookup(nn.Module):
        """The hooked module: token id i -> cached activation row i (mod N)."""

        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Parameter(table, requires_grad=False)

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return nn.functional.embedding(input_ids % n, self.table)

    class CachedActivations(PreTrainedModel):
        config_class = CachedConfig
        base_model_prefix = ""

        def __init__(self, config: CachedConfig) -> None:
            super().__init__(config)
            self.layers = nn.ModuleList([Lookup()])

        def forward(self, input_ids: torch.Tensor, **_: object) -> torch.Tensor:
            return self.layers[0](input_ids)

    class Sequences(torch.utils.data.Dataset):
        """Sequence j = token ids j*seq ..< (j+1)*seq, i.e. consecutive cached rows."""

        def __init__(self, count: int) -> None:
            self.count = count

        def __len__(self) -> int:
            return self.count

        def __getitem__(self, j: int) -> dict:
            return {"input_ids": torch.arange(j * seq, (j + 1) * seq, dtype=torch.long)}

    model = CachedActivations(CachedConfig(num_hidden_layers=1))
    total_steps = args.warmup + args.steps + 1
    cfg = TrainConfig(
        sae=SparseCoderConfig(activation="topk", expansion_factor=args.expansion, k=args.k),
        batch_size=args.batch_size // seq, loss_fn="fvu", optimizer=args.optimizer,
        lr=None, hookpoints=["layers.0"], log_to_wandb=False, save_every=10**9,
        save_dir=os.devnull, init_seeds=[0],
    )
    trainer = Trainer(cfg, Sequences(total_steps * (args.batch_size // seq)), model)
    trainer.save = lambda: None  # no checkpoint at the end of fit()
    clock = StepClock()
    model.forward = clock.wrap(model.forward)
    sae = next(iter(trainer.saes.values()))
    sae_forward = sae.forward

    def forward_and_record(*a, **kw):
        out = sae_forward(*a, **kw)
        clock.losses.append(out.fvu.detach())
        return out

    sae.forward = forward_and_record
    trainer.fit()
    decoder = sparsify_utils.decoder_impl.__name__
    return dict(
        package="eai-sparsify", version=version("eai-sparsify"), d_in=d_in, d_sae=sae.num_latents,
        k=args.k, optimizer=type(trainer.optimizers[0]).__name__ + f" ({args.optimizer})",
        times=clock.intervals(args.warmup, args.steps), losses=clock.losses,
        input_scale=float(d_in ** 0.5 / data.norm(dim=1).mean()),
        what_is_timed=(
            "sparsify.Trainer.fit() (loss fvu) on a stand-in model whose hooked module layers.0 "
            f"returns cached rows (sequences of {seq}): interval between the starts of consecutive "
            "model forwards = the row lookup, the trainer's hook (detach/clone, "
            "set_decoder_norm_to_unit_norm, "
            f"SparseCoder forward: fused_encoder + {decoder}, FVU; backward), "
            "remove_gradient_parallel_to_decoder_directions, optimizer step + zero_grad, schedulers, "
            "dead-latent bookkeeping and the DataLoader's next batch; AuxK off (auxk_alpha 0)"),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trainer", required=True, choices=["saelens-topk", "saelens-standard", "sparsify-topk"])
    ap.add_argument("--npy", required=True, help="[N, d_in] float32 activations")
    ap.add_argument("--expansion", type=int, default=16)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--l1", type=float, default=5.0, help="saelens-standard L1 coefficient")
    ap.add_argument("--lr", type=float, default=2e-4, help="SAELens learning rate (sparsify picks its own)")
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--max-rows", type=int, default=65536, help="rows read from the .npy (0: all)")
    ap.add_argument("--norm-batches", type=int, default=8,
                    help="batches SAELens's fit() reads for its norm estimate (its default: 1000)")
    ap.add_argument("--sparse-activations", action="store_true",
                    help="saelens-topk: use_sparse_activations (COO activations, torch.sparse.mm decode; "
                         "its backward fails on CPU with torch 2.15)")
    ap.add_argument("--optimizer", default="signum", choices=["signum", "adam"],
                    help="sparsify-topk optimizer (sparsify's default: signum)")
    ap.add_argument("--seq-len", type=int, default=128, help="sparsify-topk tokens per sequence")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = load_rows(args.npy, args.max_rows)
    if data.shape[0] < args.batch_size:
        sys.exit(f"real_trainers: {args.npy} has {data.shape[0]} rows, fewer than --batch-size "
                 f"{args.batch_size} ---> HINT: concatenate more shards or lower --batch-size")
    with contextlib.redirect_stdout(sys.stderr):  # the trainers' prints; stdout is the JSON line
        run = run_saelens if args.trainer.startswith("saelens") else run_sparsify
        result = run(args, data)
    times = result.pop("times")
    losses = [float(v) for v in result.pop("losses")]
    median = statistics.median(times)
    print(json.dumps({
        "trainer": args.trainer, "package": result.pop("package"), "version": result.pop("version"),
        "torch": torch.__version__, "activations_per_second": args.batch_size / median,
        "seconds_per_step": median, "threads": torch.get_num_threads(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(), **result,
        "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
        "rows": int(data.shape[0]), "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
    }))


if __name__ == "__main__":
    main()
