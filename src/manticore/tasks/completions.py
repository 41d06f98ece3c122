"""The paper's synthetic completions dataset (section 3.1, "Penn Treebank completions").

Given K component language models and a source of prompts (the first `prompt_words` words of each
example of a text dataset), each component writes a completion of every prompt with seeded sampling.
Each example is labelled with the component that wrote it (its *slice*), so a hybrid fine-tuned on the
mixture can be evaluated per slice.

Example fields: input_ids (t,) = prompt + completion tokens; labels (t,) aligned next-token targets
(IGNORE_INDEX on the prompt when `completion_only_loss`); slice () = index of the writing component.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

from ..checks import check, check_int, check_number, is_number
from .base import IGNORE_INDEX, SequenceDataset, Task
from .cache import cached
from .spec import TaskSpec
from .tokenizers import get_tokenizer


NAME = "lm/completions"


def read_prompt_source(source: str | os.PathLike | Sequence[str]) -> list[str]:
    """Texts to take prompts from: a list of strings, a text file (one example per non-empty line, as
    in ptb.train.txt), or the name of an embedded corpus (e.g. "shakespeare", its train split's lines)."""
    if not isinstance(source, (str, os.PathLike)):
        return [str(t) for t in source]
    path = Path(source)
    if path.is_file():
        return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    from .corpora import corpus_names, load_corpus

    if str(source) in corpus_names():
        return [line.strip() for text in load_corpus(str(source))["train"] for line in text.splitlines() if line.strip()]
    raise FileNotFoundError(
        f"Prompt source {str(source)!r} is neither a text file nor an embedded corpus ({', '.join(corpus_names())}); "
        "pass a file with one example per line, a corpus name, or a list of strings."
    )


def make_prompts(texts: Sequence[str], prompt_words: int, num_prompts: int | None, seed: int) -> list[str]:
    """The first `prompt_words` words of each text with at least that many words, de-duplicated, shuffled."""
    prompts = sorted({" ".join(t.split()[:prompt_words]) for t in texts if len(t.split()) >= prompt_words})
    random.Random(seed).shuffle(prompts)
    return prompts[:num_prompts] if num_prompts else prompts


@torch.no_grad()
def complete(model: PreTrainedModel, tokenizer, prompts: list[str], max_new_tokens: int, seed: int,
             temperature: float = 1.0, top_k: int | None = None, batch_size: int = 32) -> list[list[int]]:
    """Sample one completion per prompt; returns the completion token ids (eos and after removed).

    Prompts of equal token length are batched together, so no padding is needed and results don't depend
    on batch composition beyond the seed.
    """
    model.eval()
    encoded = [tokenizer.encode(p) for p in prompts]
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, ids in enumerate(encoded):
        by_length[len(ids)].append(i)
    out: list[list[int]] = [[] for _ in prompts]
    torch.manual_seed(seed)
    for length in sorted(by_length):
        group = by_length[length]
        for start in range(0, len(group), batch_size):
            rows = group[start:start + batch_size]
            ids = torch.tensor([encoded[i] for i in rows])
            generated = model.generate(ids, do_sample=True, max_new_tokens=max_new_tokens, temperature=temperature,
                                       top_k=top_k, pad_token_id=tokenizer.pad_token_id,
                                       eos_token_id=tokenizer.eos_token_id)
            for i, row in zip(rows, generated[:, length:].tolist()):
                out[i] = row[: row.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in row else row
    return out


def completion_examples(prompts: list[list[int]], completions: list[list[int]], eos: int, completion_only_loss: bool):
    """input_ids = prompt + completion + eos; labels aligned (labels[j] predicts input_ids[j + 1])."""
    inputs, labels = [], []
    for prompt, completion in zip(prompts, completions):
        tokens = prompt + completion + [eos]
        target = tokens[1:] + [IGNORE_INDEX]
        if completion_only_loss:
            target[: len(prompt) - 1] = [IGNORE_INDEX] * (len(prompt) - 1)
        inputs.append(torch.tensor(tokens))
        labels.append(torch.tensor(target))
    return inputs, labels


def load_writer(model: PreTrainedModel | PretrainedConfig | str | os.PathLike) -> PreTrainedModel:
    """A completion writer: an instance, a checkpoint path or hub id, or a config (random init)."""
    if isinstance(model, PretrainedConfig):
        model = AutoModelForCausalLM.from_config(model)
    elif isinstance(model, (str, os.PathLike)):
        model = AutoModelForCausalLM.from_pretrained(model)
    elif not isinstance(model, PreTrainedModel):
        raise TypeError(f"models must be PreTrainedModels, checkpoint paths or configs; got {type(model).__name__}.")
    return model


def fingerprint(model: PreTrainedModel) -> str:
    """A hash of a model's weights, so cached completions are rebuilt when a writer changes."""
    digest = hashlib.sha256(model.config.to_json_string().encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class CompletionsSettings:
    """lm/completions: who writes the completions, of which prompts, and how they are sampled."""

    models: Literal["components"] | list[Any] = field(default_factory=list)
    """The component LMs that write the completions: PreTrainedModels, checkpoint paths or hub ids, or configs
    (random init). In a run config, 'components': the run's own components."""
    source: str | list[str] = "shakespeare"
    """Texts to take prompts from: a text file (one example a line, as ptb.train.txt), an embedded corpus's
    name, or a list of strings."""
    tokenizer: str = "byte"
    """'byte', or a Hugging Face tokenizer's folder or hub id: the writers' and the task's tokens."""
    prompt_words: int = 4
    """A prompt is the first this many words of an example (examples with fewer are skipped)."""
    num_prompts: int | None = 200
    """Distinct prompts kept, at random (None or 0: all)."""
    max_new_tokens: int = 48
    """The longest completion, in tokens."""
    temperature: float = 1.0
    """The sampling temperature."""
    top_k: int | None = None
    """Sample from the k likeliest tokens only (None: from all)."""
    test_fraction: float = 0.2
    """The share of the prompts whose completions (by every writer) are the test split."""
    completion_only_loss: bool = True
    """Score only the completion tokens, not the prompt's."""
    seed: int = 0
    """Seeds the choice of prompts and the sampling."""

    def __post_init__(self):
        check(bool(self.models), "models", self.models, "a non-empty list of the component LMs that write the "
              "completions (PreTrainedModels, checkpoint paths or hub ids, or configs), or 'components' in a run "
              "config", NAME)
        check_int(self.prompt_words, "prompt_words", minimum=1, where=NAME)
        check_int(self.max_new_tokens, "max_new_tokens", minimum=1, where=NAME)
        check_number(self.temperature, "temperature", positive=True, where=NAME)
        if self.top_k is not None:
            check_int(self.top_k, "top_k", minimum=1, where=NAME)
        check(is_number(self.test_fraction) and 0 < self.test_fraction < 1, "test_fraction", self.test_fraction,
              "a number in (0, 1)", NAME)
        check_int(self.seed, "seed", minimum=0, where=NAME)


def completions_task(settings: CompletionsSettings, use_cache: bool = True) -> Task:
    """Completions of the same prompts by each of `models`; each example's slice is its writer's index.

    The train/test split is by prompt, so a test prompt's completions (from every model) are all unseen.
    """
    s = settings
    if s.models == "components":
        raise ValueError(f"{NAME}: models='components' stands for a run's components, which only a run config "
                         "has; give the models (PreTrainedModels, checkpoint paths or configs).")
    tok = get_tokenizer(s.tokenizer)
    models = [load_writer(m) for m in s.models]
    prompt_words, test_fraction, seed = s.prompt_words, s.test_fraction, s.seed
    prompts = make_prompts(read_prompt_source(s.source), prompt_words, s.num_prompts, seed)
    if len(prompts) < 2:
        raise ValueError(f"Only {len(prompts)} prompt(s) of {prompt_words}+ words in the source; need at least 2.")
    num_test = max(1, round(len(prompts) * test_fraction))
    splits = {"test": prompts[:num_test], "train": prompts[num_test:]}

    def build() -> dict:
        out = {}
        for split, split_prompts in splits.items():
            encoded = [tok.encode(p) for p in split_prompts]
            inputs, labels, slices = [], [], []
            for k, model in enumerate(tqdm(models, desc=f"completions ({split})", leave=False)):
                completions = complete(model, tok, split_prompts, s.max_new_tokens, seed + 1000 * k + (split == "test"),
                                       s.temperature, s.top_k)
                x, y = completion_examples(encoded, completions, tok.eos_token_id, s.completion_only_loss)
                inputs += x
                labels += y
                slices += [k] * len(x)
            out[split] = {"input_ids": inputs, "labels": labels, "slice": torch.tensor(slices)}
        return out

    recorded = {"models": [fingerprint(m) for m in models], "prompts": splits, "tokenizer": repr(tok),
                "max_new_tokens": s.max_new_tokens, "temperature": s.temperature, "top_k": s.top_k,
                "completion_only_loss": s.completion_only_loss, "seed": seed}
    raw = cached(NAME, recorded, build, use_cache)
    data = {split: SequenceDataset(d["input_ids"], d["labels"], slice=d["slice"]) for split, d in raw.items()}
    return Task(
        name=NAME, kind="lm", vocab_size=tok.vocab_size, train=data["train"], test=data["test"],
        max_length=max(len(x) for d in data.values() for x in d.input_ids), pad_token_id=tok.pad_token_id,
        tokenizer=tok,
        metadata={"num_models": len(models), "prompts": splits, "slices": "index of the model that wrote it"},
    )


TASKS = (TaskSpec(NAME, CompletionsSettings, completions_task, "The paper's synthetic completions: each component "
                  "completes the same prompts; examples carry their writer's index (`slice`)."),)
"""The task of this module, for the registry (registry.py)."""
