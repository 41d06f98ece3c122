"""The `make demo` job: build a small GPT-Neo + Mamba hybrid, show its structure, check the one-hot
property, and save/reload it.

Later stages (projector pretraining, search, retrain) extend this into the full Manticore workflow.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, GPTNeoConfig, MambaConfig
from transformers.utils import logging

from .hybrid import ManticoreForCausalLM
from .hybrid.summary import describe, one_hot_check

VOCAB = 256  # byte-level


def demo_components(seed: int = 0):
    """Two small randomly initialised components of different families, widths and depths."""
    torch.manual_seed(seed)
    gpt_neo = GPTNeoConfig(vocab_size=VOCAB, hidden_size=64, num_layers=4, num_heads=4,
                           attention_types=[[["global", "local"], 2]], window_size=32,
                           max_position_embeddings=256, bos_token_id=None, eos_token_id=None)
    mamba = MambaConfig(vocab_size=VOCAB, hidden_size=48, num_hidden_layers=2, state_size=8, expand=2,
                        bos_token_id=None, eos_token_id=None, pad_token_id=None)
    return [AutoModelForCausalLM.from_config(c).eval() for c in (gpt_neo, mamba)]


def run_demo(out_dir: str | Path = "runs/demo", num_blocks: int = 2, seed: int = 0) -> ManticoreForCausalLM:
    logging.disable_progress_bar()  # tiny models load instantly
    components = demo_components(seed)
    model = ManticoreForCausalLM.from_components(components, num_blocks=num_blocks, embeddings_from=0).eval()
    print(describe(model))

    text = "To be, or not to be, that is the question."
    ids = torch.tensor([list(text.encode())])
    print(f"\nWith embeddings_from=k and α one-hot at k, the hybrid is component k (max |Δ logits| on {text!r}):")
    for k, component in enumerate(components):
        hybrid_k = model if k == 0 else ManticoreForCausalLM.from_components(
            components, num_blocks=num_blocks, embeddings_from=k).eval()
        print(f"  component {k} ({component.config.model_type}): {one_hot_check(hybrid_k, ids, k, component):.2e}")

    weights = [[0.7, 0.3], [0.2, 0.8]]
    model.set_mixture_weights(weights)
    with torch.no_grad():
        loss = model(ids, labels=ids).loss.item()
    print(f"\nProgrammed α = {weights}: next-byte loss on the sentence {loss:.3f} (untrained components)")

    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    reloaded = ManticoreForCausalLM.from_pretrained(out_dir).eval()
    with torch.no_grad():
        same = torch.equal(reloaded(ids).logits, model(ids).logits)
    print(f"Saved to {out_dir} (safetensors); reloaded with identical logits: {same}")
    return model
