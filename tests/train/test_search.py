"""A new search algorithm is one class and one registry entry: a toy one, defined in this file, runs end to end."""

from dataclasses import dataclass

import pytest
import torch

import manticore
from manticore import tasks
from manticore.train import Engine, SearchAlgorithm, SearchConfig, TrainConfig, register_algorithm
from manticore.checks import check
from manticore.workflow.run_config import CONFIGS, load_run_config
from manticore.train.search import ALGORITHMS
from conftest import tiny_config


@dataclass
class ToyHyperparameters:
    step: float = 0.5
    """How far each architecture step moves the logits, against the gradient's sign."""

    def __post_init__(self):
        check(self.step > 0, "search.hyperparameters.step", self.step, "a number > 0")


@register_algorithm
class SignDescent(SearchAlgorithm):
    """Sign descent on the logits, with α sampled as uniform noise mixed into softmax(a) in training."""

    name = "toy-sign-descent"
    Hyperparameters = ToyHyperparameters
    samples = 0

    def optimizer(self, params, lr):
        return torch.optim.SGD(params, lr=self.hyperparameters.step)

    def sample(self, logits):
        SignDescent.samples += 1
        return 0.5 * logits.softmax(-1) + 0.5 / logits.shape[-1]


@pytest.fixture(scope="module")
def task():
    return tasks.get("mad/in-context-recall", num_train=64, num_test=16, seq_len=32, vocab_size=16, seed=0)


def test_a_registered_toy_algorithm_searches(task, tmp_path):
    assert "toy-sign-descent" in ALGORITHMS
    torch.manual_seed(0)
    model = manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=16), tiny_config("mamba", vocab=16)], num_blocks=2)
    search = SearchConfig("toy-sign-descent", "alternating", hyperparameters={"step": 0.25})
    engine = Engine(model, task, TrainConfig(max_steps=3, batch_size=8, log_every=100), tmp_path, search=search)
    assert isinstance(engine.optimizers["arch"], torch.optim.SGD)
    assert engine.optimizers["arch"].param_groups[0]["lr"] == 0.25
    SignDescent.samples = 0
    engine.train()
    assert SignDescent.samples == 6  # alternating: an architecture and a model forward per step, both sampled
    alphas = model.mixture_weights()
    assert not torch.allclose(alphas, torch.full_like(alphas, 0.5))  # α moved
    assert torch.equal(alphas, model.mixture_weights())  # and reads deterministically outside training


def test_a_run_config_takes_the_new_algorithm_and_checks_its_hyperparameters(tmp_path):
    config = load_run_config(CONFIGS / "quickstart.yaml", ["search.algorithm=toy-sign-descent",
                                                          "search.hyperparameters={step: 0.1}"])
    assert config.stage_settings("search").search.build().hyperparameters.step == 0.1
    with pytest.raises(ValueError, match=r"search.hyperparameters.step=-1"):
        load_run_config(CONFIGS / "quickstart.yaml", ["search.algorithm=toy-sign-descent",
                                                     "search.hyperparameters={step: -1}"])
    with pytest.raises(ValueError, match=r"Unknown field\(s\) \['stpe'\] in search.hyperparameters"):
        load_run_config(CONFIGS / "quickstart.yaml", ["search.algorithm=toy-sign-descent",
                                                     "search.hyperparameters={stpe: 1}"])


def test_registering_something_else_is_refused():
    with pytest.raises(TypeError, match="SearchAlgorithm subclass"):
        register_algorithm(object)


def test_gumbel_samples_only_in_training_forwards(task, tmp_path):
    torch.manual_seed(0)
    model = manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo", vocab=16),
                                                            tiny_config("llama", vocab=16)], num_blocks=1)
    gumbel = SearchConfig("gumbel", hyperparameters={"temperature": 0.5}).build()
    logits = model.architecture_parameters()[0]
    first, second = gumbel.sample(logits), gumbel.sample(logits)
    assert not torch.equal(first, second) and torch.allclose(first.sum(-1), torch.ones(1))
    ids = torch.randint(0, 16, (2, 8))
    assert not torch.equal(model(ids, mixture_sampler=gumbel.sample).logits, model(ids).logits)
    model.train()
    assert torch.equal(model(ids).logits, model(ids).logits)  # without a sampler, α is α even in training
