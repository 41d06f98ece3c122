"""Task.chance: the best constant predictor of the test labels, exactly."""

import math

import pytest
import torch

from manticore.tasks.base import IGNORE_INDEX, SequenceDataset, Task


def task_with(labels, kind="lm"):
    ids = torch.zeros(len(labels), *([len(labels[0])] if kind == "lm" else [3]), dtype=torch.long)
    data = SequenceDataset(ids, torch.tensor(labels))
    return Task(name="toy", kind=kind, vocab_size=8, train=data, test=data, num_labels=4)


def test_lm_chance_counts_only_scored_labels():
    chance = task_with([[1, 1, IGNORE_INDEX], [1, 2, IGNORE_INDEX]]).chance  # 1, 1, 1, 2
    assert chance["accuracy"] == 0.75 and chance["macro_accuracy"] == 0.5
    assert chance["loss"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))


def test_classification_chance_is_the_majority_class():
    chance = task_with([0, 3, 3, 3, 1], kind="classification").chance
    assert chance["accuracy"] == 0.6 and chance["macro_accuracy"] == pytest.approx(1 / 3)


def test_a_test_split_without_scored_labels_has_no_chance_level():
    with pytest.raises(ValueError, match="no scored labels"):
        _ = task_with([[IGNORE_INDEX, IGNORE_INDEX]]).chance
