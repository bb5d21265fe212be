"""Tokenising a task split and cutting it into dynamically padded batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class EncodedSplit:
    """A tokenised split: per-example token ids (unpadded) and labels."""

    input_ids: tuple[tuple[int, ...], ...]
    token_type_ids: tuple[tuple[int, ...], ...]
    labels: tuple
    truncated: int  # how many examples were cut to max_length

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def encode_split(tokenizer, texts_a, texts_b=None, labels=None, *, max_length: int = 128) -> EncodedSplit:
    texts_a = list(texts_a)
    texts_b = list(texts_b) if texts_b is not None else None
    full = tokenizer(texts_a, texts_b, truncation=False, add_special_tokens=True)
    encoded = tokenizer(texts_a, texts_b, truncation=True, max_length=max_length)
    truncated = sum(len(a) > len(b) for a, b in zip(full["input_ids"], encoded["input_ids"], strict=True))
    token_types = encoded.get("token_type_ids") or [[0] * len(ids) for ids in encoded["input_ids"]]
    return EncodedSplit(
        input_ids=tuple(tuple(ids) for ids in encoded["input_ids"]),
        token_type_ids=tuple(tuple(t) for t in token_types),
        labels=tuple(labels) if labels is not None else tuple([0] * len(texts_a)),
        truncated=truncated,
    )


def pad_batch(split: EncodedSplit, indices, *, pad_id: int = 0, regression: bool = False) -> dict:
    """Right-pads the chosen examples to the longest among them: (B, T) tensors."""
    indices = list(indices)
    width = max(len(split.input_ids[i]) for i in indices)
    input_ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    token_type_ids = torch.zeros((len(indices), width), dtype=torch.long)
    attention_mask = torch.zeros((len(indices), width), dtype=torch.long)
    for row, index in enumerate(indices):
        ids = split.input_ids[index]
        input_ids[row, : len(ids)] = torch.tensor(ids)
        token_type_ids[row, : len(ids)] = torch.tensor(split.token_type_ids[index])
        attention_mask[row, : len(ids)] = 1
    label_dtype = torch.float32 if regression else torch.long
    labels = torch.tensor([split.labels[i] for i in indices], dtype=label_dtype)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": token_type_ids,
        "labels": labels,
    }


def length_sorted_batches(lengths, batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding; same batches for every model)."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
