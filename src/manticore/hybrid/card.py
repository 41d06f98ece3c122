"""The model card of a saved hybrid: `README.md` in its directory, in the Hugging Face Hub's format (YAML metadata,
then Markdown), written by `save_pretrained` and, with the stage's test metrics, by the workflow.

It says what the hybrid is made of (each component's family, source, depth and width), its L Manticore blocks and
α per block, what trained it (the stage, its task and test metrics, when known), what it costs (parameters,
KV-cache and recurrent-state bytes, FLOPs per token, from the cost model) and how to load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CARD = "README.md"
CARD_CONTEXT = 4096  # the context length of the card's per-token costs


def looks_like_hub_id(source: str | None) -> bool:
    return bool(source) and source.count("/") == 1 and not source.startswith((".", "/", "~"))


def metadata(config, tags: list[str] | None = None) -> str:
    """The card's YAML front matter: library, pipeline, tags and the hub ids of the components (base_model)."""
    import yaml

    families = list(dict.fromkeys(config.adapters or []))
    heads = config.architectures or ["ManticoreForCausalLM"]
    data: dict[str, Any] = {
        "library_name": "transformers",
        "pipeline_tag": "text-classification" if "SequenceClassification" in heads[0] else "text-generation",
        "tags": list(dict.fromkeys(["manticore", "hybrid", *families, *(tags or [])])),
    }
    hub = [s for s in (config.component_sources or []) if looks_like_hub_id(s)]
    if hub:
        data["base_model"] = hub
    return "---\n" + yaml.safe_dump(data, sort_keys=False) + "---\n"


def model_card(model, training: list[dict[str, Any]] | None = None, tags: list[str] | None = None,
               repo: str | None = None) -> str:
    """The card's text for `model` (a Manticore hybrid). training: what trained it, each {"stage", "task",
    "test": {metric: value}} (the workflow's result records); repo: the id or directory to load it from in the
    example (default: this directory)."""
    from ..errors import install_hint
    from ..report.markdown import fmt, table
    from .cost import CostModel

    config = model.config
    families = config.adapters or []
    sources = config.component_sources or [None] * len(families)
    configs = config.component_configs()
    alphas = model.mixture_weights().detach().tolist()
    lines = [metadata(config, tags), f"# Manticore hybrid: {' + '.join(families)}", "",
             f"A [Manticore](https://arxiv.org/abs/2406.00894) hybrid of {len(families)} pretrained components in "
             f"L = {config.num_blocks} Manticore blocks: block l mixes block group l of every component through "
             "gated-residual projectors, with mixture weights α^(l) (a one-hot α is that component exactly).", "",
             "## Components", ""]
    rows = []
    for k, (family, source, component) in enumerate(zip(families, sources, configs)):
        adapter_depth = [stop - start for start, stop in config.block_groups(k)]
        rows.append([str(k), family, f"`{source}`" if source else "a config (trained from scratch)",
                     str(sum(adapter_depth)), str(getattr(component, "hidden_size", "—"))])
    lines += table(["k", "family", "source", "layers", "width"], rows) + [""]
    lines += ["## Mixture weights α", "", "One row per Manticore block; a weight of exactly 0 is a branch that "
              "is not computed.", ""]
    lines += table(["block", *families], [[str(l), *(f"{a:.4f}" for a in row)] for l, row in enumerate(alphas)]) + [""]
    if training:
        lines += ["## Training", ""]
        metrics = list(dict.fromkeys(m for record in training for m in (record.get("test") or {})))
        lines += table(["stage", "task", *(f"test {m}" for m in metrics)],
                       [[f"`{r.get('stage') or r.get('kind') or '—'}`", str(r.get("task") or "—"),
                         *(fmt((r.get("test") or {}).get(m)) for m in metrics)] for r in training]) + [""]
    costs = CostModel.of(model)
    lines += ["## Cost", "", f"From the cost model, counting the components only where α > 0, at a context of "
              f"{CARD_CONTEXT:,} tokens (`manticore cost DIR` prints the whole profile):", ""]
    measures = {"parameters": costs.cost(alphas, "params"),
                "FLOPs per decoded token": costs.cost(alphas, "flops", CARD_CONTEXT),
                "KV-cache bytes": costs.cost(alphas, "kv_bytes", CARD_CONTEXT),
                "recurrent-state bytes": costs.cost(alphas, "state_bytes", CARD_CONTEXT)}
    lines += table(["measure", "value"], [[name, f"{value:,.0f}"] for name, value in measures.items()]) + [""]
    where = repo or "path/to/this/directory"
    lines += ["## How to load", "", f"The remote code saved here (`trust_remote_code=True`) uses the installed "
              f"`manticore` package: {install_hint()}.", "", "```python",
              "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
              f'model = AutoModelForCausalLM.from_pretrained("{where}", trust_remote_code=True)',
              f'tokenizer = AutoTokenizer.from_pretrained("{where}")  # if a tokenizer was saved with it', "```", ""]
    return "\n".join(lines)


def write_model_card(directory: str | Path, model, training: list[dict[str, Any]] | None = None,
                     tags: list[str] | None = None) -> Path:
    """Write `model_card` to directory/README.md; returns its path."""
    path = Path(directory) / CARD
    path.write_text(model_card(model, training, tags))
    return path
