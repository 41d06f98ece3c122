"""Bad input to the Python API gets a named error (issue 11, point 8): labels like token ids, non-finite mixture
weights, empty sequences, mismatched masks, num_labels, unknown config keywords."""

import pytest
import torch

from manticore import ManticoreConfig, ManticoreForCausalLM, ManticoreForSequenceClassification
from conftest import VOCAB, tiny_config


@pytest.fixture
def hybrid():
    torch.manual_seed(0)
    return ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config("mamba")], num_blocks=2)


def test_language_model_labels_out_of_range_are_named(hybrid):
    ids = torch.randint(0, VOCAB, (2, 6))
    labels = ids.clone()
    labels[0, 3] = VOCAB + 9
    with pytest.raises(ValueError, match=rf"Labels must be in \[0, {VOCAB}\) \(or -100, ignored\); got \[{VOCAB + 9}\]"):
        hybrid(input_ids=ids, labels=labels)
    labels[0, 3] = -100  # ignored positions are fine
    assert torch.isfinite(hybrid(input_ids=ids, labels=labels).loss)


def test_classification_labels_out_of_range_are_named():
    torch.manual_seed(0)
    classifier = ManticoreForSequenceClassification.from_components([tiny_config("gpt_neo")], num_blocks=1, num_labels=3)
    ids = torch.randint(0, VOCAB, (2, 6))
    with pytest.raises(ValueError, match=r"Labels must be in \[0, 3\).*got \[7\]"):
        classifier(input_ids=ids, labels=torch.tensor([1, 7]))
    assert torch.isfinite(classifier(input_ids=ids, labels=torch.tensor([1, 2])).loss)


@pytest.mark.parametrize("logits", [[[float("nan"), 0.0], [0.0, 0.0]], [[0.0, 0.0], [float("-inf"), float("-inf")]]],
                         ids=["nan", "all--inf"])
def test_non_finite_mixture_weights_are_named(hybrid, logits):
    with torch.no_grad():
        hybrid.model.mixture.logits.copy_(torch.tensor(logits))
    with pytest.raises(ValueError, match=r"mixture weights of block\(s\) \[\d\] are not finite"):
        hybrid(input_ids=torch.randint(0, VOCAB, (1, 4)))


def test_empty_sequences_and_bad_embeddings_are_named(hybrid):
    with pytest.raises(ValueError, match=r"input_ids must have shape \(batch, length >= 1\); got \(2, 0\)"):
        hybrid(input_ids=torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"inputs_embeds must have shape \(batch, length >= 1, d_max=32\)"):
        hybrid(inputs_embeds=torch.zeros(2, 5, 7))


def test_a_mask_of_the_wrong_shape_is_named(hybrid):
    ids = torch.randint(0, VOCAB, (2, 6))
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 5\); expected .* = \(2, 6\)"):
        hybrid(input_ids=ids, attention_mask=torch.ones(2, 5, dtype=torch.long))


def test_num_labels_must_be_at_least_one():
    with pytest.raises(ValueError, match="num_labels must be an integer >= 1"):
        ManticoreForSequenceClassification.from_components([tiny_config("gpt_neo")], num_blocks=1, num_labels=0)


def test_unknown_config_keywords_are_refused_with_a_suggestion():
    with pytest.raises(ValueError, match=r"unknown keyword\(s\) 'projector_bais' \(did you mean 'projector_bias'\?\)"):
        ManticoreConfig(components=[tiny_config("gpt_neo")], num_blocks=1, projector_bais=False)
