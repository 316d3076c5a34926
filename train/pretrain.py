"""The CPU base model's training loop: plain PyTorch, lean enough for a 2-core machine.

TRL's ``SFTTrainer`` trains the generators; the from-scratch base uses this loop instead because on
a CPU its per-step overhead dominates such a small model (about 3x the time per token here). It
computes the LM head only at the positions that carry loss, weights prompt tokens by
``prompt_weight`` (the schemas are worth learning too, and their forward pass is paid for anyway),
batches examples of similar length together, and runs a warmup + cosine learning-rate schedule over
either ``max_steps`` or ``max_seconds``, whichever comes first. Loss and learning rate go to
``training.log`` in the same format as the generators' (see :mod:`sqlensemble.train.callbacks`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PretrainConfig(BaseModel):
    """How the base model trains (the preset's ``base.train``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(default=3e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    batch_size: int = Field(default=16, gt=0)
    max_steps: int = Field(default=1000, gt=0)
    max_seconds: float | None = Field(
        default=None, gt=0, description="stop (and finish the schedule) by then"
    )
    warmup_steps: int = Field(default=30, ge=0)
    prompt_weight: float = Field(default=0.3, ge=0, le=1)
    max_length: int = Field(default=1536, gt=0)
    grad_clip: float = Field(default=1.0, gt=0)
    logging_steps: int = Field(default=20, gt=0)
    seed: int = 0


@dataclass(frozen=True)
class TokenizedExample:
    """One tokenized example: ``ids`` and where the completion starts."""

    ids: tuple[int, ...]
    completion_start: int


def learning_rate(config: PretrainConfig, progress: float, step: int) -> float:
    """Linear warmup over ``warmup_steps``, then cosine decay to zero at ``progress == 1``.

    >>> c = PretrainConfig(learning_rate=1.0, warmup_steps=10)
    >>> learning_rate(c, 0.0, 4), learning_rate(c, 0.5, 100), learning_rate(c, 1.0, 1000)
    (0.5, 0.5, 0.0)
    """
    warm = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    return config.learning_rate * warm * 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar lengths, in random order (less padding, still shuffled).

    >>> batches = length_batches([5, 50, 6, 51, 7, 52], 2, random.Random(0))
    >>> sorted(sorted(b) for b in batches)  # 5, 6 | 7, 50 | 51, 52 by length
    [[0, 2], [1, 4], [3, 5]]
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        window = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches += [window[i : i + batch_size] for i in range(0, len(window), batch_size)]
    rng.shuffle(batches)
    return batches


def tokenize_records(
    records: Sequence[dict[str, Any]], tokenizer: Any, max_length: int
) -> list[TokenizedExample]:
    """Chat-template each record; sequences over ``max_length`` tokens are left out, never truncated
    (a cut sequence would teach the model to stop mid-query); the caller reports how many.

    Tokenized in two batch calls (the fast tokenizer's batch path is several times quicker than a call
    per record on the tens of thousands of base records).
    """
    prompts = [
        tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False)
        for r in records
    ]
    fulls = [tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=False) for r in records]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"] if records else []
    full_ids = tokenizer(fulls, add_special_tokens=False)["input_ids"] if records else []
    out = []
    for prompt, full in zip(prompt_ids, full_ids, strict=True):
        if len(prompt) < len(full) <= max_length:
            out.append(TokenizedExample(tuple(full), len(prompt)))
    return out


def _log(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def pretrain(
    model: Any, sequences: Sequence[TokenizedExample], config: PretrainConfig, log_path: Path, pad_id: int
) -> int:
    """Train ``model`` in place; returns the number of optimizer steps taken."""
    import torch

    from sqlensemble.train.callbacks import format_log_line

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, betas=(0.9, 0.98)
    )
    lm_head, backbone = model.get_output_embeddings(), model.get_decoder()
    lengths = [len(s.ids) for s in sequences]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _log(log_path, f"# {time.strftime('%Y-%m-%d %H:%M:%S')} pretrain begin max_steps={config.max_steps}")
    started, step = time.monotonic(), 0
    batches: list[list[int]] = []
    while step < config.max_steps:
        if not batches:
            batches = length_batches(lengths, config.batch_size, rng)
        batch = [sequences[i] for i in batches.pop()]
        width = max(len(s.ids) for s in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        weights = torch.zeros((len(batch), width))
        for row, seq in enumerate(batch):
            ids[row, : len(seq.ids)] = torch.tensor(seq.ids)
            mask[row, : len(seq.ids)] = 1
            weights[row, 1 : seq.completion_start] = config.prompt_weight
            weights[row, seq.completion_start : len(seq.ids)] = 1.0
        elapsed = time.monotonic() - started
        progress = step / config.max_steps
        if config.max_seconds:
            progress = max(progress, elapsed / config.max_seconds)
        if progress >= 1.0:
            break
        lr = learning_rate(config, progress, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        hidden = backbone(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
        targets, target_weights = ids[:, 1:], weights[:, 1:]
        keep = target_weights > 0
        per_token = torch.nn.functional.cross_entropy(lm_head(hidden[keep]), targets[keep], reduction="none")
        loss = (per_token * target_weights[keep]).sum() / target_weights[keep].sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if step % config.logging_steps == 0:
            completion = per_token[target_weights[keep] == 1.0].mean().item()
            line = format_log_line(step, None, {"loss": loss.item(), "learning_rate": lr})
            _log(log_path, f"{line} sql_loss={completion:.4f} seconds={elapsed:.0f}")
    model.eval()
    _log(log_path, f"# pretrain end step={step} seconds={time.monotonic() - started:.0f}")
    return step
