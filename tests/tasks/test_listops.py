"""lra/listops: labels against an independent evaluator, tree shape and length bounds, splits, cache, errors."""

import statistics

import pytest
import torch

from manticore import tasks
from manticore.tasks import listops

SMALL = dict(num_train=200, num_test=40, num_validation=40, min_length=20, max_length=200, use_cache=False)


def parse(tokens: list[str]):
    """Recursive descent, independent of the module: tokens -> (value, depth, arities, number of tokens read)."""

    def node(i: int, depth: int):
        token = tokens[i]
        if token.isdigit():
            return int(token), depth, [], i + 1
        assert token in ("[MIN", "[MAX", "[MED", "[SM"), token
        values, deepest, arities, i = [], depth, [], i + 1
        while tokens[i] != "]":
            value, child_depth, child_arities, i = node(i, depth + 1)
            values.append(value)
            deepest, arities = max(deepest, child_depth), arities + child_arities
        value = {"[MIN": min, "[MAX": max, "[SM": lambda v: sum(v) % 10,
                 "[MED": lambda v: int(statistics.median(v))}[token](values)
        return value, deepest, arities + [len(values)], i + 1

    value, depth, arities, end = node(0, 1)
    assert end == len(tokens), "trailing tokens after the expression"
    return value, depth, arities


def strings(dataset) -> list[str]:
    return [listops.decode(dataset[i]["input_ids"]) for i in range(len(dataset))]


@pytest.mark.parametrize("expression, value", [
    ("7", 7),
    ("[MAX 2 9 [MIN 4 7 ] 0 ]", 9),
    ("[MIN 4 [MAX 6 8 ] ]", 4),
    ("[MED 1 2 ]", 1),  # even count: int(np.median) = floor(1.5)
    ("[MED 3 8 2 9 ]", 5),  # middle two 3 and 8 -> 5.5 -> 5
    ("[MED 9 0 4 ]", 4),
    ("[SM 9 9 9 ]", 7),
    ("[SM [MED 5 1 9 ] 6 [MAX 0 3 ] ]", 4),
])
def test_evaluate_hand_written(expression, value):
    assert listops.evaluate(expression) == value
    assert listops.evaluate(expression.split()) == value
    assert listops.evaluate(listops.encode(expression) + [listops.EOS_ID]) == value
    assert listops.evaluate(torch.tensor(listops.encode(expression))) == value


def test_evaluate_tree_form():
    assert listops.evaluate(("MAX", [2, 9, ("MIN", [4, 7]), 0])) == 9
    assert listops.evaluate(("[SM", [9, ("MED", [1, 2])])) == 0


@pytest.mark.parametrize("bad", ["[MAX 2 9", "2 3", "[MAX 2 ] ]", "[FOO 1 2 ]", ""])
def test_evaluate_rejects_malformed(bad):
    with pytest.raises(ValueError):
        listops.evaluate(bad)


def test_labels_match_an_independent_evaluator_and_the_tree_shape():
    task = tasks.get("lra/listops", seed=1, max_depth=4, max_args=5, **SMALL)
    for split in (task.train, task.validation, task.test):
        for i in range(len(split)):
            example = split[i]
            ids = example["input_ids"]
            assert ids.dtype == torch.long and ids.dim() == 1 and example["labels"].dim() == 0
            assert ids[-1] == listops.EOS_ID and (ids[:-1] != listops.EOS_ID).all()
            tokens = listops.decode(ids[:-1]).split()
            value, depth, arities = parse(tokens)
            assert example["labels"].item() == value == listops.evaluate(ids)
            assert 20 < len(tokens) < 200 and len(ids) <= task.max_length
            assert depth <= 4 and all(2 <= a <= 5 for a in arities)


def test_lra_lengths_and_vocabulary():
    task = tasks.get("lra/listops", num_train=30, num_test=5, num_validation=5, use_cache=False)
    assert (task.kind, task.num_labels, task.vocab_size, task.max_length) == ("classification", 10, 18, 2000)
    seen_tokens = set()
    for example in (task.train[i] for i in range(len(task.train))):
        ids = example["input_ids"]
        assert 500 < len(ids) - 1 < 2000  # the tree, without its eos
        assert parse(listops.decode(ids[:-1]).split())[0] == example["labels"].item()
        seen_tokens |= set(ids.tolist())
    assert seen_tokens == set(range(2, 18))  # eos, every digit, every operator and "]"; no pad or unk


def test_no_duplicates_within_or_across_splits():
    task = tasks.get("lra/listops", max_depth=3, max_args=4, num_train=300, num_test=50, num_validation=50,
                     min_length=8, max_length=30, use_cache=False)
    everything = strings(task.train) + strings(task.validation) + strings(task.test)
    assert len(everything) == len(set(everything)) == 400


def test_deterministic_per_seed_with_separate_split_streams():
    first, again = (tasks.get("lra/listops", seed=3, **SMALL) for _ in range(2))
    other_seed = tasks.get("lra/listops", seed=4, **SMALL)
    more_train = tasks.get("lra/listops", seed=3, **{**SMALL, "num_train": 400})
    assert strings(first.train) == strings(again.train) and strings(first.test) == strings(again.test)
    assert strings(first.train) != strings(other_seed.train)
    assert strings(first.train) != strings(first.test)[: len(first.train)]
    assert strings(more_train.test) == strings(first.test)  # the test set does not depend on num_train
    assert strings(more_train.train)[:200] == strings(first.train)  # and a bigger train set extends the smaller
    assert torch.equal(first.train.labels, again.train.labels)


def test_cache_builds_once(monkeypatch):
    settings = dict(SMALL, use_cache=True, seed=11)
    built = tasks.get("lra/listops", **settings)

    def fail(*args, **kwargs):
        raise AssertionError("generated again instead of loading the cache")

    monkeypatch.setattr(listops, "generate_split", fail)
    loaded = tasks.get("lra/listops", **settings)
    assert strings(loaded.train) == strings(built.train)
    assert torch.equal(loaded.test.labels, built.test.labels)


def test_collate_pads_variable_lengths():
    task = tasks.get("lra/listops", seed=2, **SMALL)
    examples = [task.train[i] for i in range(4)]
    batch = task.collate(examples)
    lengths = [len(e["input_ids"]) for e in examples]
    assert batch["input_ids"].shape == (4, max(lengths)) and batch["labels"].shape == (4,)
    assert batch["attention_mask"].sum(1).tolist() == lengths


@pytest.mark.parametrize("settings, named", [
    (dict(num_train=-1), "num_train"),
    (dict(max_depth=0), "max_depth"),
    (dict(max_args=1), "max_args"),
    (dict(min_length=100, max_length=101), "min_length"),
    (dict(max_depth=2, max_args=3), "min_length=500"),  # at most 5 tokens: 500 is unreachable
])
def test_bad_settings_are_named(settings, named):
    with pytest.raises(ValueError, match=named):
        tasks.get("lra/listops", use_cache=False, **settings)
