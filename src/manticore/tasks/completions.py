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
from pathlib import Path
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

from .base import IGNORE_INDEX, SequenceDataset, Task
from .cache import cached
from .registry import register


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


@register("lm/completions")
def completions_task(
    models: Sequence[PreTrainedModel | str] = (),
    source: str | Sequence[str] = "shakespeare",
    tokenizer: str = "byte",
    prompt_words: int = 4,
    num_prompts: int | None = 200,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    top_k: int | None = None,
    test_fraction: float = 0.2,
    completion_only_loss: bool = True,
    seed: int = 0,
) -> Task:
    """Completions of the same prompts by each of `models`; each example's slice is its writer's index.

    The train/test split is by prompt, so a test prompt's completions (from every model) are all unseen.
    """
    from .tokenizers import get_tokenizer

    if not models:
        raise ValueError("lm/completions needs models=[...]: the component LMs (instances or checkpoint paths) "
                         "that write the completions.")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    tok = get_tokenizer(tokenizer)
    models = [load_writer(m) for m in models]
    prompts = make_prompts(read_prompt_source(source), prompt_words, num_prompts, seed)
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
                completions = complete(model, tok, split_prompts, max_new_tokens, seed + 1000 * k + (split == "test"),
                                       temperature, top_k)
                x, y = completion_examples(encoded, completions, tok.eos_token_id, completion_only_loss)
                inputs += x
                labels += y
                slices += [k] * len(x)
            out[split] = {"input_ids": inputs, "labels": labels, "slice": torch.tensor(slices)}
        return out

    settings = {"models": [fingerprint(m) for m in models], "prompts": splits, "tokenizer": repr(tok),
                "max_new_tokens": max_new_tokens, "temperature": temperature, "top_k": top_k,
                "completion_only_loss": completion_only_loss, "seed": seed}
    raw = cached("lm/completions", settings, build)
    data = {split: SequenceDataset(d["input_ids"], d["labels"], slice=d["slice"]) for split, d in raw.items()}
    return Task(
        name="lm/completions", kind="lm", vocab_size=tok.vocab_size, train=data["train"], test=data["test"],
        max_length=max(len(x) for d in data.values() for x in d.input_ids), pad_token_id=tok.pad_token_id,
        tokenizer=tok,
        metadata={"num_models": len(models), "prompts": splits, "slices": "index of the model that wrote it"},
    )
