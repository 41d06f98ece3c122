"""Tokenizers for the language tasks: a byte-level tokenizer and an adapter for Hugging Face tokenizers.

Both have one small interface: `vocab_size`, `pad_token_id`, `bos_token_id`, `eos_token_id`,
`encode(text) -> list[int]` (no special tokens added), `encode_batch(texts)`, `decode(ids) -> str`
(special tokens dropped), `fingerprint` (a string that changes when the ids a text maps to would) and
`hf_tokenizer()`: the same ids as a Hugging Face tokenizer, which the workflow saves beside every model it
trains on a language task, so `pipeline` and lm-eval can load it.

    tok = get_tokenizer("byte")                  # ByteTokenizer
    tok = get_tokenizer("path/saved/tokenizer")  # HFTokenizer (a save_pretrained directory or a hub id)

The paper (Sec. 6) relearns the embeddings and LM head of a hybrid from scratch, so any tokenizer works;
bytes need no files and are the LRA convention for text.
"""

from __future__ import annotations

import numpy as np

import hashlib
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import torch


class ByteTokenizer:
    """UTF-8 bytes as tokens. Ids 0..255 are the byte values themselves; the specials follow them:
    pad = 256, bos = 257, eos = 258, so vocab_size = 259.

    Keeping bytes at their own values means byte-level text and 8-bit pixels share ids 0..255.
    """

    pad_token_id = 256
    bos_token_id = 257
    eos_token_id = 258
    vocab_size = 259
    fingerprint = "byte-v1"  # bump if the id layout above changes

    def encode(self, text: str) -> list[int]:
        """text -> its UTF-8 bytes as ids in 0..255 (no specials added)."""
        return list(text.encode("utf-8"))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def encode_arrays(self, texts: Sequence[str]) -> list[np.ndarray]:
        """encode_batch as uint8 arrays: one byte per token, where a list of ints takes eight (a 50 MB line of
        text stays 50 MB, not 400)."""
        return [np.frombuffer(text.encode("utf-8"), dtype=np.uint8) for text in texts]

    def decode(self, ids: Sequence[int]) -> str:
        """ids -> text; special ids are dropped and invalid UTF-8 becomes U+FFFD."""
        return bytes(int(i) for i in ids if 0 <= int(i) < 256).decode("utf-8", errors="replace")

    def __call__(self, texts: str | Sequence[str]) -> list[int] | list[list[int]]:
        return self.encode(texts) if isinstance(texts, str) else self.encode_batch(texts)

    def hf_tokenizer(self):
        """The same ids as a Hugging Face `PreTrainedTokenizerFast` (for `pipeline`, lm-eval, and saving with a
        model): a byte-level BPE without merges whose vocabulary maps each byte to its own value, then the
        specials <pad> = 256, <s> = 257, </s> = 258; no special token is added when encoding."""
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast

        char_of = _byte_chars()
        backend = Tokenizer(models.BPE(vocab={char_of[b]: b for b in range(256)}, merges=[]))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
        backend.decoder = decoders.ByteLevel()
        backend.add_special_tokens([AddedToken(t, special=True) for t in ("<pad>", "<s>", "</s>")])  # 256, 257, 258
        return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                       model_max_length=int(1e30))

    def __repr__(self) -> str:
        return "ByteTokenizer(vocab_size=259, pad=256, bos=257, eos=258)"


def _byte_chars() -> dict[int, str]:
    """Byte value -> the printable character byte-level BPE stands it for (GPT-2's table): printable Latin-1
    bytes are themselves, the other 68 take the code points from 256 up, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}


class HFTokenizer:
    """A Hugging Face tokenizer (`AutoTokenizer.from_pretrained(name_or_path)`) behind the same interface.

    vocab_size counts added tokens (len(tokenizer)). pad_token_id falls back to eos, then to 0; eos falls
    back to the sep token and is None when the tokenizer has neither (the LM tasks then refuse it, since
    they join documents with eos).
    """

    def __init__(self, name_or_path: str, **kwargs: Any):
        from transformers import AutoTokenizer

        self.name_or_path = str(name_or_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.name_or_path, **kwargs)
        except (OSError, ValueError) as err:
            raise ValueError(
                f"Could not load tokenizer {self.name_or_path!r}: {err}\nAccepted: 'byte', a directory written by "
                "save_pretrained (with tokenizer.json or the tokenizer's vocabulary files), or a hub id that is "
                "already in the local Hugging Face cache (downloads need HF_HUB_OFFLINE unset)."
            ) from err
        self.tokenizer.model_max_length = int(1e30)  # we cut into blocks ourselves; silences length warnings

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def eos_token_id(self) -> int | None:
        tok = self.tokenizer
        return tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id

    @property
    def bos_token_id(self) -> int | None:
        return self.tokenizer.bos_token_id

    @property
    def pad_token_id(self) -> int:
        for candidate in (self.tokenizer.pad_token_id, self.eos_token_id):
            if candidate is not None:
                return candidate
        return 0

    @property
    def fingerprint(self) -> str:
        """The name plus, for a local directory, the names, sizes and mtimes of its files."""
        path = Path(self.name_or_path)
        stats = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in path.iterdir() if f.is_file()) \
            if path.is_dir() else []
        blob = repr((self.name_or_path, type(self.tokenizer).__name__, self.vocab_size, stats))
        return "hf-" + hashlib.sha256(blob.encode()).hexdigest()[:16]

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        return self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def __call__(self, texts: str | Sequence[str]) -> list[int] | list[list[int]]:
        return self.encode(texts) if isinstance(texts, str) else self.encode_batch(texts)

    def hf_tokenizer(self):
        """The Hugging Face tokenizer itself."""
        return self.tokenizer

    def __repr__(self) -> str:
        return f"HFTokenizer({self.name_or_path!r}, vocab_size={self.vocab_size})"


Tokenizer = ByteTokenizer | HFTokenizer


def get_tokenizer(spec: str | Path | Tokenizer = "byte") -> Tokenizer:
    """'byte' -> ByteTokenizer; a save_pretrained directory or hub id -> HFTokenizer; a tokenizer -> itself."""
    if isinstance(spec, (ByteTokenizer, HFTokenizer)):
        return spec
    if not isinstance(spec, (str, Path)) or not str(spec):
        raise TypeError(f"tokenizer must be 'byte', a tokenizer directory or a hub id, got {spec!r}.")
    if str(spec) == "byte":
        return ByteTokenizer()
    return HFTokenizer(str(spec))


def id_dtype(vocab_size: int) -> torch.dtype:
    """The smallest signed integer dtype that holds ids 0..vocab_size-1 and IGNORE_INDEX (-100), for storage."""
    return torch.int16 if vocab_size <= 2**15 else torch.int32
