"""The hybrid's names in transformers' Auto classes: registering them in this process, and the `auto_map` plus
remote-code module a saved hybrid carries so that another process loads it with trust_remote_code=True.

`manticore.hybrid` registers when it loads; `import manticore` alone registers as soon as transformers' Auto
classes load (the hook in `manticore/_auto_hook.py`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import install_hint

# The Auto class -> our class that it loads; registered in this process, and written into every saved hybrid's
# config.json as its `auto_map`, so another process loads it with trust_remote_code=True.
AUTO_MODELS = {"AutoModel": "ManticoreModel", "AutoModelForCausalLM": "ManticoreForCausalLM",
               "AutoModelForSequenceClassification": "ManticoreForSequenceClassification"}
REMOTE_CODE = "modeling_manticore"  # the module a saved hybrid carries: it imports the installed package


def register(config: type, models: dict[str, type]) -> None:
    """AutoConfig, AutoModel, AutoModelForCausalLM and AutoModelForSequenceClassification know the hybrid:
    `config` is ManticoreConfig, `models` {class name: class} holds the classes AUTO_MODELS names."""
    import transformers

    transformers.AutoConfig.register(config.model_type, config, exist_ok=True)
    for auto, name in AUTO_MODELS.items():
        getattr(transformers, auto).register(config, models[name], exist_ok=True)


def auto_map() -> dict[str, str]:
    """config.json's `auto_map`: each Auto class -> "modeling_manticore.<class>"."""
    return {"AutoConfig": f"{REMOTE_CODE}.ManticoreConfig", **{a: f"{REMOTE_CODE}.{c}" for a, c in AUTO_MODELS.items()}}


def write_remote_code(directory: str | Path) -> None:
    """Put modeling_manticore.py in a saved hybrid's directory: Hugging Face's custom-code loader imports it
    (trust_remote_code=True) in a process that never imported manticore; it takes the classes from the
    installed `manticore` package, so the checkpoint carries no copy of our code."""
    names = ["ManticoreConfig", *AUTO_MODELS.values()]
    (Path(directory) / f"{REMOTE_CODE}.py").write_text(
        '"""Loads a saved Manticore hybrid through transformers\' Auto classes (trust_remote_code=True).\n\n'
        f'The classes come from the installed `manticore` package: {install_hint()}."""\n\n'
        f"from manticore.hybrid import {', '.join(names)}\n\n__all__ = {names!r}\n")
