"""Tokenising and packing: examples -> token streams -> blocks, shared by lm/text (a split held in memory,
lm.py) and lm/stream (read on the fly, streaming.py), so a streamed split packs exactly as an in-memory one.

An example is a list of (text, scored) segments (`Segments`: e.g. an Alpaca prompt, unscored with
response_only_loss, then its response); each is tokenized and the example is followed by eos. A split is
one stream, eos + example + eos + example + eos ..., cut into blocks of `block_size` (pack=True), or one
stream per example, truncated (pack=False). In both, input_ids = stream[i : i+T] and labels =
stream[i+1 : i+T+1], so labels[j] is the target of the prediction at position j; a label is IGNORE_INDEX
when its target token is unscored. Scoring is decided per target token, so it holds across block
boundaries. Blocks with no scored target are dropped.

Token ids are stored in the tokenizer's compact dtype (int16 for vocabularies of up to 32,768 ids, else int32).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .base import IGNORE_INDEX, SequenceDataset
from .tokenizers import id_dtype

ENCODE_CHUNK = 1024  # examples tokenized per call, so max_tokens can stop early

Segments = list[tuple[str, bool]]  # one example: (text, scored) pieces, tokenized separately and joined


def encode_split(examples: Sequence[Segments], tokenizer, pack: bool,
                 max_tokens: int | None) -> dict[str, torch.Tensor]:
    """Tokenize examples into streams: tokens (n,) int16/int32, scored (n,) bool, lengths (streams,) long.

    pack=True: one stream eos + ex + eos + ex + eos ...; pack=False: one stream eos + ex + eos per example.
    max_tokens caps the split's input tokens (a stream of n tokens has n - 1 inputs).
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError(f"{tokenizer!r} has no eos (or sep) token; LM tasks join documents with it.")
    pieces, budget = [], np.inf if max_tokens is None else max_tokens
    dtype = np.int16 if id_dtype(tokenizer.vocab_size) == torch.int16 else np.int32  # the storage dtype, from the start
    encode = getattr(tokenizer, "encode_arrays", tokenizer.encode_batch)  # compact ids where the tokenizer has them
    for start in range(0, len(examples), ENCODE_CHUNK):
        chunk = examples[start:start + ENCODE_CHUNK]
        ids = iter(encode([text for example in chunk for text, _ in example]))
        for example in chunk:
            tokens, scored = join_example(example, ids, eos, dtype)
            pieces.append((tokens, scored))
            budget -= len(tokens)
            if budget <= 0:
                break
        if budget <= 0:
            break
    return _token_streams(pieces, eos, pack, max_tokens, id_dtype(tokenizer.vocab_size))


def join_example(example: Segments, ids, eos: int, dtype=np.int32) -> tuple[np.ndarray, np.ndarray]:
    """One example's tokens + eos, and whether each is scored (eos is scored with the last segment)."""
    parts = [np.asarray(next(ids), dtype=dtype) for _ in example]  # the ids' storage dtype, not int64
    tokens = np.concatenate(parts + [np.array([eos], dtype=dtype)])
    scored = np.concatenate([np.full(len(p), s, dtype=bool) for p, (_, s) in zip(parts, example)] + [np.ones(1, bool)])
    return tokens, scored


def _token_streams(pieces, eos: int, pack: bool, max_tokens: int | None, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """[(tokens, scored)] per example -> tokens, scored, lengths: one stream (pack) or one per example, each
    starting with an unscored eos; max_tokens caps the inputs (packed: cut; else whole examples only)."""
    start = (np.array([eos], dtype=np.dtype(str(dtype).replace("torch.", ""))), np.zeros(1, bool))
    if pack:
        streams = [(np.concatenate([start[0]] + [t for t, _ in pieces]),
                    np.concatenate([start[1]] + [s for _, s in pieces]))]
        if max_tokens is not None:
            streams = [(t[: max_tokens + 1], s[: max_tokens + 1]) for t, s in streams]
    else:
        streams, total = [], 0
        for t, s in pieces:
            if max_tokens is not None and streams and total + len(t) > max_tokens:
                break
            streams.append((np.concatenate([start[0], t]), np.concatenate([start[1], s])))
            total += len(t)
    if not streams:
        streams = [start]
    return {"tokens": torch.from_numpy(np.concatenate([t for t, _ in streams])).to(dtype),
            "scored": torch.from_numpy(np.concatenate([s for _, s in streams])),
            "lengths": torch.tensor([len(t) for t, _ in streams], dtype=torch.long)}


def blocks(data: Mapping[str, torch.Tensor], block_size: int, pack: bool) -> SequenceDataset:
    """Streams -> examples input_ids (t,), labels (t,), t <= block_size; labels[j] = input_ids[j + 1] where scored."""
    inputs, labels, lengths = [], [], data["lengths"].tolist()
    for tokens, scored in zip(data["tokens"].split(lengths), data["scored"].split(lengths)):
        x, y = tokens[:-1], torch.where(scored[1:], tokens[1:], torch.tensor(IGNORE_INDEX, dtype=tokens.dtype))
        xs, ys = (x.split(block_size), y.split(block_size)) if pack else ((x[:block_size],), (y[:block_size],))
        scored_per_block = torch.nn.functional.pad(y != IGNORE_INDEX, (0, -len(y) % block_size))
        keep = scored_per_block.view(-1, block_size).any(1).tolist()  # block i holds y[i*T : (i+1)*T]
        inputs += [xb for xb, k in zip(xs, keep) if k]
        labels += [yb for yb, k in zip(ys, keep) if k]
    return SequenceDataset(inputs, labels)
