"""Shared fixtures: tiny component models of every supported family, built offline."""

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["MANTICORE_CACHE"] = tempfile.mkdtemp(prefix="manticore-test-cache-")  # never the user's cache
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="manticore-test-datasets-")  # lm-eval's local JSON tasks

import pytest
import torch
from transformers import (
    GPT2Config,
    GPTNeoConfig,
    GPTNeoXConfig,
    LlamaConfig,
    Mamba2Config,
    MambaConfig,
    MistralConfig,
    Qwen2Config,
    Qwen3Config,
)
from transformers.utils import logging

from manticore.components import ADAPTERS, supported_families
from manticore.components.decoder import DecoderAdapter

logging.set_verbosity_error()

VOCAB = 61  # deliberately not a power of two


def tiny_config(family: str, d_model: int = 32, depth: int = 2, vocab: int = VOCAB, max_positions: int = 64):
    """A tiny config of one supported family; d_model must be a multiple of 16."""
    common = dict(vocab_size=vocab, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    heads = d_model // 8
    if family == "gpt_neo":
        types = [[["global", "local"], depth // 2]] if depth % 2 == 0 else [[["global"], depth]]
        return GPTNeoConfig(hidden_size=d_model, num_layers=depth, num_heads=heads, attention_types=types,
                            max_position_embeddings=max_positions, window_size=4, **common)
    if family == "gpt2":
        return GPT2Config(n_embd=d_model, n_layer=depth, n_head=heads, n_positions=max_positions, **common)
    if family == "gpt_neox":
        return GPTNeoXConfig(hidden_size=d_model, num_hidden_layers=depth, num_attention_heads=heads,
                             intermediate_size=2 * d_model, **common)
    if family in ("llama", "qwen2", "mistral", "qwen3"):
        cls = {"llama": LlamaConfig, "qwen2": Qwen2Config, "mistral": MistralConfig, "qwen3": Qwen3Config}[family]
        extra = {"sliding_window": 4} if family == "mistral" else {}
        if family == "qwen3":
            extra = {"head_dim": d_model // heads}  # Qwen3's head_dim doesn't follow the width (default 128)
        return cls(hidden_size=d_model, num_hidden_layers=depth, num_attention_heads=heads, num_key_value_heads=heads // 2,
                   intermediate_size=2 * d_model, **extra, **common)
    if family == "mamba":
        return MambaConfig(hidden_size=d_model, num_hidden_layers=depth, state_size=4, expand=2, **common)
    if family == "mamba2":
        return Mamba2Config(hidden_size=d_model, num_hidden_layers=depth, state_size=8, expand=2, head_dim=8,
                            num_heads=2 * d_model // 8, n_groups=1, chunk_size=8, **common)
    raise KeyError(family)


# every family with its own hand-written adapter; tiny_config must build each of them. Families that are
# discovered (DecoderAdapter and its subclasses, e.g. rwkv) are checked by tests/components/test_families.py.
FAMILIES = [f for f in supported_families() if not issubclass(ADAPTERS[f], DecoderAdapter)]


def tiny_component(family: str, seed: int = 0, **kwargs):
    """A tiny randomly initialised causal LM of one family, in eval mode."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(tiny_config(family, **kwargs)).eval()


def save_word_tokenizer(folder, lines):
    """A WordLevel tokenizer ([PAD]=0, [UNK]=1, [EOS]=2, then the words of `lines`) saved with save_pretrained."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.train_from_iterator(lines, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[EOS]"]))
    wrapped = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]")
    wrapped.save_pretrained(folder)
    return folder


@pytest.fixture
def ids():
    torch.manual_seed(123)
    return torch.randint(0, VOCAB, (2, 12))
