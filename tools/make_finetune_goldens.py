#!/usr/bin/env python3
"""make_finetune_goldens.py - PyTorch's gradients and AdamW trajectory for whole tiny
classifiers, the goldens of tests/train/sequence_classifier_test.cpp.

Writes three random-weight sequence classifiers, each a folder that transformers itself saved
(config.json + model.safetensors; no tokenizer: the tests feed token ids), with what PyTorch
computes for them:

  tests/data/finetune/bert_cls         BertForSequenceClassification: hidden 30 in 5 heads,
                                       2 layers, FFN 37, erf GELU ("gelu"), 2 labels neg/pos
  tests/data/finetune/bert_cls_legacy  BertForSequenceClassification: hidden 24 in 3 heads,
                                       3 layers, FFN 29, tanh GELU ("gelu_new"), 3 labels
                                       a/b/c; its model.safetensors names the LayerNorm
                                       parameters LayerNorm.gamma / LayerNorm.beta (old
                                       TensorFlow-converted checkpoints), rewritten here
  tests/data/finetune/distilbert_cls   DistilBertForSequenceClassification: dim 30 in 3 heads,
                                       2 layers, FFN 37, 3 labels a/b/c

All: vocabulary 101, 40 positions, pad id 0, every dropout 0, eager attention,
initializer_range 0.2 (transformers' own init: N(0, 0.2) weights and embeddings); then, so a
kernel that ignores a LayerNorm scale or a bias fails, LayerNorm scales are redrawn U(0.5, 1.5),
LayerNorm shifts N(0, 0.1) and biases N(0, 0.1). The padding row of the word embeddings stays 0.

Each folder also gets, for the checkpoint as reloaded from disk (eager attention, float32):

  golden.json
    batch          {input_ids: unpadded id lists, token_type_ids (BERT only), labels}: 5
                   sequences of lengths 7, 3, 12, 1, 9; BERT sequences 0, 2 and 4 have token
                   type 1 on their second half
    loss, logits   CrossEntropyLoss (mean) and logits [B][K] of the right-padded batch with
                   its attention_mask (train mode; dropout is 0, so it equals eval mode)
    file_names     every parameter's tensor name in model.safetensors (model order)
    no_decay       the names transformers' Trainer does not decay (get_decay_parameter_names'
                   complement: biases and LayerNorm weights), as file names
    float32_vs_float64_max_rel   max over parameters of ||g32 - g64|| / ||g64||: how far the
                   float32 golden itself is from exact (over parameters not in zero_grad)
    zero_grad      parameters whose exact gradient is 0 (float64 gradient <= 1e-12 of the
                   whole gradient's norm): the attention key biases, which softmax ignores;
                   their float32 gradient is rounding noise, at most
                   zero_grad_float32_max_rel_to_total of the whole gradient's norm
    adamw          the optimizer run below: lr, betas, eps, weight_decay, warmup_steps,
                   total_steps, max_grad_norm, batches[3] (batch 0 is `batch`), losses[20] (each
                   step's loss before its update), lrs[20] (the learning rate each step used),
                   grad_norms[20] (clip_grad_norm_'s pre-clip norm)
    adamw_float32_vs_float64_max_loss_diff   max |loss32 - loss64| over the 20 steps
  golden.safetensors
    grad.<name>    d loss / d parameter on `batch` from the initial weights (file names)
    final.<name>   the parameter after the 20 AdamW steps

The AdamW run, from the saved weights: torch.optim.AdamW with two parameter groups (weight
decay 0.01, and 0 for no_decay), lr 1e-3, betas (0.9, 0.999), eps 1e-8, transformers'
get_linear_schedule_with_warmup(warmup 4, total 20); each step zero_grad, forward, loss,
backward, clip_grad_norm_(1.0), step, scheduler step, cycling over adamw.batches.

One thread and fixed seeds: rerunning with the same torch / transformers versions rewrites
identical files. Run from the repository root:
  .venv/bin/python tools/make_finetune_goldens.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import (BertConfig, BertForSequenceClassification, DistilBertConfig,
                          DistilBertForSequenceClassification, Trainer,
                          get_linear_schedule_with_warmup)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "data" / "finetune"

SEED = 20250301
VOCAB = 101
MAX_POSITIONS = 40
BATCH_LENGTHS = [[7, 3, 12, 1, 9], [5, 16, 2, 8, 11], [10, 4, 6, 14, 3]]

ADAMW = {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01,
         "warmup_steps": 4, "total_steps": 20, "max_grad_norm": 1.0}

COMMON = dict(vocab_size=VOCAB, max_position_embeddings=MAX_POSITIONS, pad_token_id=0,
              initializer_range=0.2, attn_implementation="eager")


def labels_config(names: list[str]) -> dict:
    return {"num_labels": len(names), "id2label": dict(enumerate(names)),
            "label2id": {n: i for i, n in enumerate(names)}}


MODELS = {
    "bert_cls": (BertForSequenceClassification, lambda: BertConfig(
        **COMMON, hidden_size=30, num_attention_heads=5, num_hidden_layers=2,
        intermediate_size=37, hidden_act="gelu", type_vocab_size=2, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, classifier_dropout=0.0,
        **labels_config(["neg", "pos"]))),
    "bert_cls_legacy": (BertForSequenceClassification, lambda: BertConfig(
        **COMMON, hidden_size=24, num_attention_heads=3, num_hidden_layers=3,
        intermediate_size=29, hidden_act="gelu_new", type_vocab_size=2, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, classifier_dropout=0.0,
        **labels_config(["a", "b", "c"]))),
    "distilbert_cls": (DistilBertForSequenceClassification, lambda: DistilBertConfig(
        **COMMON, dim=30, n_heads=3, n_layers=2, hidden_dim=37, activation="gelu",
        sinusoidal_pos_embds=False, dropout=0.0, attention_dropout=0.0,
        seq_classif_dropout=0.0, **labels_config(["a", "b", "c"]))),
}
LEGACY = {"bert_cls_legacy"}


def legacy_name(name: str) -> str:
    if name.endswith("LayerNorm.weight"):
        return name[: -len("weight")] + "gamma"
    if name.endswith("LayerNorm.bias"):
        return name[: -len("bias")] + "beta"
    return name


def perturb_(model: torch.nn.Module, generator: torch.Generator) -> None:
    """LayerNorm scales U(0.5, 1.5), shifts N(0, 0.1), Linear biases N(0, 0.1), in module
    registration order (reproducible)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            elif isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)


def make_batch(lengths: list[int], num_labels: int, token_types: bool,
               generator: torch.Generator) -> dict:
    ids = [torch.randint(1, VOCAB, (n,), generator=generator).tolist() for n in lengths]
    batch = {"input_ids": ids}
    if token_types:
        # A sentence pair in every other sequence: type 1 on its second half.
        batch["token_type_ids"] = [[int(b % 2 == 0 and t >= n // 2 and n >= 2) for t in range(n)]
                                   for b, n in enumerate(lengths)]
    labels = torch.randint(0, num_labels, (len(lengths),), generator=generator).tolist()
    labels[: num_labels] = list(range(num_labels))  # every class appears
    batch["labels"] = labels
    return batch


def padded(batch: dict) -> dict[str, torch.Tensor]:
    """Right-padded tensors: pad id 0, token type 0, mask 0."""
    lengths = [len(ids) for ids in batch["input_ids"]]
    B, T = len(lengths), max(lengths)
    out = {"input_ids": torch.zeros(B, T, dtype=torch.int64),
           "attention_mask": torch.zeros(B, T, dtype=torch.int64)}
    if "token_type_ids" in batch:
        out["token_type_ids"] = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(lengths):
        out["input_ids"][b, :n] = torch.tensor(batch["input_ids"][b])
        out["attention_mask"][b, :n] = 1
        if "token_type_ids" in batch:
            out["token_type_ids"][b, :n] = torch.tensor(batch["token_type_ids"][b])
    return out


def load(model_cls, folder: Path, dtype: torch.dtype) -> torch.nn.Module:
    model, info = model_cls.from_pretrained(folder, attn_implementation="eager",
                                            output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise SystemExit(f"{folder}: transformers did not load the checkpoint cleanly: {problems}")
    return model.to(dtype).train()


def loss_of(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    logits = model(**padded(batch)).logits
    labels = torch.tensor(batch["labels"], dtype=torch.int64)
    return torch.nn.functional.cross_entropy(logits, labels), logits


def gradients(model, batch: dict) -> tuple[float, list, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss, logits = loss_of(model, batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return loss.item(), logits.detach().tolist(), grads


def adamw_run(model, batches: list[dict], no_decay: set[str]):
    decay = [p for n, p in model.named_parameters() if n not in no_decay]
    other = [p for n, p in model.named_parameters() if n in no_decay]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": ADAMW["weight_decay"]},
         {"params": other, "weight_decay": 0.0}],
        lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"], foreach=False)
    scheduler = get_linear_schedule_with_warmup(optimizer, ADAMW["warmup_steps"],
                                                ADAMW["total_steps"])
    losses, lrs, norms = [], [], []
    for step in range(ADAMW["total_steps"]):
        optimizer.zero_grad(set_to_none=True)
        loss, _ = loss_of(model, batches[step % len(batches)])
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), ADAMW["max_grad_norm"])
        losses.append(loss.item())
        lrs.append(optimizer.param_groups[0]["lr"])
        norms.append(norm.item())
        optimizer.step()
        scheduler.step()
    final = {n: p.detach().clone() for n, p in model.named_parameters()}
    return losses, lrs, norms, final


def write_folder(out_root: Path, name: str, generator: torch.Generator) -> dict:
    model_cls, make_config = MODELS[name]
    folder = out_root / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    config = make_config()
    model = model_cls(config)  # transformers' init: N(0, initializer_range)
    perturb_(model, generator)
    model.save_pretrained(folder, safe_serialization=True)
    param_names = [n for n, _ in model.named_parameters()]
    to_file = legacy_name if name in LEGACY else (lambda n: n)
    weights = folder / "model.safetensors"
    state = load_file(str(weights))
    if set(state) != set(param_names):
        raise SystemExit(f"{name}: saved tensors {sorted(set(state) ^ set(param_names))} are not "
                         "the parameters")
    if name in LEGACY:
        renamed = {to_file(k): v for k, v in state.items()}
        if sum(k.endswith((".gamma", ".beta")) for k in renamed) != 2 * (2 * 3 + 1):
            raise SystemExit(f"{name}: unexpected number of LayerNorm tensors")
        save_file(renamed, str(weights), metadata={"format": "pt"})
    file_names = [to_file(n) for n in param_names]
    if set(load_file(str(weights))) != set(file_names):
        raise SystemExit(f"{name}: model.safetensors does not hold the expected names")

    K = config.num_labels
    bert = model_cls is BertForSequenceClassification
    batches = [make_batch(lengths, K, bert, generator) for lengths in BATCH_LENGTHS]

    # The goldens come from the checkpoint as reloaded from disk (legacy names included).
    m32 = load(model_cls, folder, torch.float32)
    m64 = load(model_cls, folder, torch.float64)
    decay = set(Trainer.get_decay_parameter_names(None, m32))
    no_decay = [n for n in param_names if n not in decay]
    loss, logits, g32 = gradients(m32, batches[0])
    _, _, g64 = gradients(m64, batches[0])
    # Attention is invariant to a key bias (it shifts every score of a query equally), so the
    # key biases' exact gradient is 0 and float32 leaves only rounding noise there: listed
    # apart, and left out of the relative error.
    total64 = math.sqrt(sum(g64[n].square().sum().item() for n in param_names))
    zero_grad = [n for n in param_names if g64[n].norm().item() <= 1e-12 * total64]
    rel = max((g32[n].double() - g64[n]).norm().item() / g64[n].norm().item()
              for n in param_names if n not in zero_grad)
    zero_grad_max = max((g32[n].norm().item() / total64 for n in zero_grad), default=0.0)
    losses, lrs, norms, final = adamw_run(m32, batches, set(no_decay))
    losses64, _, _, _ = adamw_run(m64, batches, set(no_decay))
    loss_diff = max(abs(a - b) for a, b in zip(losses, losses64))

    tensors = {}
    for n in param_names:
        tensors["grad." + to_file(n)] = g32[n].contiguous()
        tensors["final." + to_file(n)] = final[n].contiguous()
    # One metadata key: safetensors would write several in a varying order.
    save_file(tensors, str(folder / "golden.safetensors"),
              metadata={"generator": "tools/make_finetune_goldens.py"})
    doc = {
        "model": model_cls.__name__,
        "batch": batches[0], "loss": loss, "logits": logits,
        "file_names": file_names, "no_decay": [to_file(n) for n in no_decay],
        "float32_vs_float64_max_rel": rel,
        "zero_grad": [to_file(n) for n in zero_grad],
        "zero_grad_float32_max_rel_to_total": zero_grad_max,
        "adamw": {**ADAMW, "batches": batches, "losses": losses, "lrs": lrs,
                  "grad_norms": norms},
        "adamw_float32_vs_float64_max_loss_diff": loss_diff,
    }
    (folder / "golden.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n",
                                        encoding="utf-8")
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"{name}: {len(param_names)} parameters, loss {loss:.6f}, AdamW losses "
          f"{losses[0]:.4f} -> {losses[-1]:.4f}; float32 vs float64: grads {rel:.2e} "
          f"(relative; zero-gradient {zero_grad_max:.1e} of the norm), AdamW losses {loss_diff:.2e}; {size / 1024:.0f} KiB")
    return doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="goldens folder (default tests/data/finetune)")
    args = parser.parse_args()
    # One thread: a GEMM split across threads may sum in a different order from run to run.
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    for name in MODELS:
        torch.manual_seed(SEED + len(name))  # transformers' init draws from the global stream
        write_folder(args.out, name, generator)
    return 0


if __name__ == "__main__":
    sys.exit(main())
