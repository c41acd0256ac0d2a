"""vid2act_core.naming and vid2act_core.compat: method labels, slugs, architecture mismatches."""

from __future__ import annotations

import dataclasses

import pytest

from vid2act_core.compat import ARCHITECTURE_FIELDS, MODEL_HASH_FIELDS, architecture_mismatches
from vid2act_core.config import preset
from vid2act_core.methods import method_names
from vid2act_core.naming import method_label, slugify


@pytest.mark.parametrize(
    ("text", "slug"),
    [("walker_walk", "walker_walk"), ("metaworld:door-open", "metaworld_door-open"), (" a / b ", "a_b"), ("v1.2", "v1.2")],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.mark.parametrize(
    ("overrides", "init_from", "label"),
    [
        ({}, None, "vid2act"),
        ({"distill": False}, None, "dreamer"),
        ({"uniform_weights": True}, None, "uniform"),
        ({"guidance": False}, None, "noguide"),
        ({"distill": False}, "walker_walk", "init"),
    ],
)
def test_method_label(overrides: dict, init_from: str | None, label: str) -> None:
    config = preset("tiny")
    for key, value in overrides.items():
        setattr(config.transfer, key, value)
    assert method_label(config, init_from) == label
    assert label in method_names()


def test_architecture_mismatches_lists_each_differing_field() -> None:
    teacher, student = preset("tiny").world_model, preset("tiny").world_model
    assert architecture_mismatches(teacher, student) == []
    student.deter, student.latent = 64, "categorical"
    student.use_reward_head = not teacher.use_reward_head  # a head field: not compared by default
    assert architecture_mismatches(teacher, student) == [
        "latent: teacher gaussian vs student categorical",
        "deter: teacher 32 vs student 64",
    ]
    assert architecture_mismatches(dataclasses.asdict(teacher), student, fields=("deter",), labels=("a", "b")) == [
        "deter: a 32 vs b 64"
    ]
    assert "use_reward_head" in " ".join(architecture_mismatches(teacher, student, fields=MODEL_HASH_FIELDS))
    with pytest.raises(KeyError, match="not_a_field"):
        architecture_mismatches(teacher, student, fields=("not_a_field",))


def test_model_hash_covers_exactly_the_weight_shaping_fields() -> None:
    config = preset("tiny")
    reference = config.world_model_hash()
    config.world_model.min_std = 0.5  # behaviour, not shape
    assert config.world_model_hash() == reference
    for name in MODEL_HASH_FIELDS:
        changed = preset("tiny")
        value = getattr(changed.world_model, name)
        setattr(changed.world_model, name, (not value) if isinstance(value, bool) else ("categorical" if name == "latent" else value + 1))
        assert changed.world_model_hash() != reference, name
    assert set(ARCHITECTURE_FIELDS) <= set(MODEL_HASH_FIELDS)
