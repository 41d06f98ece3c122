"""RWKV (Peng et al., 2023): discovered like any decoder, except for its fp16 rescaling.

In eval mode RWKV halves its hidden states every `rescale_every` blocks (and rescales those blocks' weights to
match) so activations fit fp16. That step sits between blocks, where a discovered adapter can't cut the model
into groups, and it is the identity up to rounding; this adapter turns it off (rescale_every = 0) in its own
copy of the model. Its recurrent state is not a transformers Cache, so hybrids with RWKV weight generate
without a cache.
"""

from __future__ import annotations

import copy

from transformers import PretrainedConfig

from .decoder import DecoderAdapter


class RwkvAdapter(DecoderAdapter):
    model_types = ("rwkv",)

    def __init__(self, config: PretrainedConfig):
        config = copy.deepcopy(config)
        config.rescale_every = 0
        super().__init__(config)
