"""Shared fixtures; the tiny models themselves are `manticore.testing`'s, built offline."""

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["MANTICORE_CACHE"] = tempfile.mkdtemp(prefix="manticore-test-cache-")  # never the user's cache
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="manticore-test-datasets-")  # lm-eval's local JSON tasks

import pytest
import torch
from transformers.utils import logging

from manticore.testing import VOCAB, hand_written_families, save_word_tokenizer, tiny_component, tiny_config  # noqa: F401

logging.set_verbosity_error()

# every family with its own hand-written adapter; tiny_config must build each of them. Families that are
# discovered (DecoderAdapter and its subclasses, e.g. rwkv) are checked by tests/components/test_families.py.
FAMILIES = hand_written_families()


@pytest.fixture
def ids():
    torch.manual_seed(123)
    return torch.randint(0, VOCAB, (2, 12))
