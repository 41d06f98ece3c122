"""Tiny models and fixtures for tests, tools and your own experiments (like `transformers.testing_utils`).

    from manticore.testing import tiny_component, tiny_config
    gpt_neo, mamba = tiny_component("gpt_neo"), tiny_component("mamba", seed=1)
    hybrid = manticore.ManticoreForCausalLM.from_components([gpt_neo, mamba], num_blocks=2)

Everything here builds offline, in milliseconds: width 32, 2 layers, a vocabulary of `VOCAB` tokens unless
asked otherwise. The families with a hand-written adapter have a hand-picked recipe (sliding windows, local
attention and grouped KV heads switched on, so those paths run); any other model type transformers knows gets
a generic recipe (`GENERIC`, `GENERIC_OVERRIDES`), the one the families sweep (`manticore.tools.families`) uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

VOCAB = 61  # deliberately not a power of two

# the generic recipe: what a tiny config of any model type starts from (scaled with d_model and depth)
GENERIC: dict[str, Any] = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                               intermediate_size=64, head_dim=8, max_position_embeddings=64, bos_token_id=None,
                               eos_token_id=None, pad_token_id=None)
DROP = "drop"  # a GENERIC_OVERRIDES value that removes the key from GENERIC
MLA = dict(q_lora_rank=16, kv_lora_rank=16, qk_rope_head_dim=4, qk_nope_head_dim=4, v_head_dim=8, head_dim=4,
           num_key_value_heads=4)  # multi-head latent attention (DeepSeek-V2/V3 and their kin)

# what a tiny config of these model types needs besides (or instead of) GENERIC
GENERIC_OVERRIDES: dict[str, dict[str, Any]] = {
    "falcon": dict(head_dim=DROP),
    "gpt_neo": dict(attention_types=[[["global", "local"], 1]], head_dim=DROP),
    "mamba2": dict(num_heads=8, head_dim=8, n_groups=1, expand=2),
    "bamba": dict(mamba_n_heads=8, mamba_d_head=8, mamba_n_groups=1, attn_layer_indices=[1]),
    "granitemoehybrid": dict(mamba_n_heads=8, mamba_d_head=8, mamba_n_groups=1, layer_types=["mamba", "attention"]),
    "jamba": dict(attn_layer_period=2, attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=1),
    **{m: MLA for m in ("deepseek_v3", "deepseek_v32", "glm4_moe_lite", "glm_moe_dsa", "axk1", "axk2")},
    "deepseek_v2": dict(MLA, n_group=1, topk_group=1, num_experts_per_tok=2),
    **{m: dict(layer_types=["linear_attention", "full_attention"])
       for m in ("qwen3_next", "qwen3_5_text", "qwen3_5_moe_text", "olmo_hybrid")},
    **{m: dict(layer_types=["linear_attention", "full_attention"], mlp_layer_types=["dense", "sparse"])
       for m in ("kimi_linear", "bailing_hybrid")},
    "codegen": dict(rotary_dim=4),
    "gptj": dict(rotary_dim=4),
    "recurrent_gemma": dict(block_types=["recurrent", "attention"]),
    "cwm": dict(bos_token_id=0, eos_token_id=1, pad_token_id=2),
    "modernbert-decoder": dict(bos_token_id=0, eos_token_id=1, pad_token_id=2, cls_token_id=3, sep_token_id=4),
    "dots3_note": dict(num_key_value_heads=4),
    "dots3_note_text": dict(num_key_value_heads=4),
    "zamba": dict(num_hidden_layers=2, attn_layer_period=2, attn_layer_offset=1),
    "zamba2": dict(num_hidden_layers=2, hybrid_layer_ids=[1]),
    "plbart": dict(decoder_attention_heads=4, encoder_attention_heads=4),
    "whisper": dict(decoder_attention_heads=4, encoder_attention_heads=4),
}

HAND_PICKED = ("gpt_neo", "gpt2", "gpt_neox", "llama", "qwen2", "mistral", "qwen3", "mamba", "mamba2")


def tiny_config(family: str, d_model: int = 32, depth: int = 2, vocab: int = VOCAB, max_positions: int = 64):
    """A tiny config of `family` (a transformers model type); d_model must be a multiple of 16. The families of
    HAND_PICKED get their own recipe; any other model type the generic one (at d_model 32, depth 2)."""
    if family in HAND_PICKED:
        return _hand_picked(family, d_model, depth, vocab, max_positions)
    return generic_config(family, vocab=vocab)


def generic_config(model_type: str, vocab: int = VOCAB):
    """A tiny config of any model type: GENERIC with the type's GENERIC_OVERRIDES (keys set to DROP removed)."""
    from transformers import AutoConfig

    values = {**GENERIC, "vocab_size": vocab, **GENERIC_OVERRIDES.get(model_type, {})}
    return AutoConfig.for_model(model_type, **{k: v for k, v in values.items() if v != DROP})


def _hand_picked(family: str, d_model: int, depth: int, vocab: int, max_positions: int):
    from transformers import (GPT2Config, GPTNeoConfig, GPTNeoXConfig, LlamaConfig, Mamba2Config, MambaConfig,
                              MistralConfig, Qwen2Config, Qwen3Config)

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
    return Mamba2Config(hidden_size=d_model, num_hidden_layers=depth, state_size=8, expand=2, head_dim=8,
                        num_heads=2 * d_model // 8, n_groups=1, chunk_size=8, **common)


def hand_written_families() -> list[str]:
    """Every family with its own hand-written adapter (not the discovering DecoderAdapter); tiny_config builds
    each of them. Discovered families are checked by the families sweep."""
    from .components import ADAPTERS, supported_families
    from .components.decoder import DecoderAdapter

    return [f for f in supported_families() if not issubclass(ADAPTERS[f], DecoderAdapter)]


def tiny_component(family: str, seed: int = 0, **kwargs):
    """A tiny randomly initialised causal LM of one family (initialised from `seed`), in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(tiny_config(family, **kwargs)).eval()


def save_word_tokenizer(folder: str | Path, lines: list[str]) -> str | Path:
    """A WordLevel tokenizer ([PAD]=0, [UNK]=1, [EOS]=2, then the words of `lines`) saved with save_pretrained."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.train_from_iterator(lines, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[EOS]"]))
    wrapped = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]")
    wrapped.save_pretrained(folder)
    return folder
