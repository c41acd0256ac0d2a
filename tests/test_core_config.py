"""Presets, YAML files and --set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from vid2act_core.config import PRESETS, ConfigError, config_from_dict, load_config, preset


def test_presets_carry_the_published_settings() -> None:
    dmc = preset("paper-dmc")
    assert (dmc.world_model.stoch, dmc.world_model.deter, dmc.world_model.cnn_depth) == (50, 200, 32)
    assert (dmc.world_model.kl_balance, dmc.world_model.free_nats) == (0.8, 1.0)
    assert (dmc.train.batch_size, dmc.train.batch_length, dmc.train.train_every) == (50, 50, 5)
    assert (dmc.actor_critic.horizon, dmc.actor_critic.discount, dmc.actor_critic.lambda_) == (15, 0.99, 0.95)
    metaworld = preset("paper-metaworld")
    assert (metaworld.env.action_repeat, metaworld.env.episode_steps, metaworld.train.steps) == (1, 500, 300_000)
    assert metaworld.train.prefill == 5000 and metaworld.train.eval_every == 6000
    assert set(PRESETS) == {"paper-dmc", "paper-metaworld", "small", "tiny"}


def test_overrides_are_typed(tmp_path: Path) -> None:
    yaml_file = tmp_path / "over.yaml"
    yaml_file.write_text("world_model:\n  deter: 64\n  latent: categorical\ntrain:\n  steps: 1e3\n")
    config = load_config("tiny", yaml_file, ["actor_critic.entropy=3e-4", "transfer.guidance=false", "env.episode_steps=none"])
    assert config.world_model.deter == 64 and config.world_model.latent == "categorical"
    assert config.train.steps == 1000 and isinstance(config.train.steps, int)
    assert config.actor_critic.entropy == pytest.approx(3e-4)
    assert config.transfer.guidance is False and config.env.episode_steps is None


@pytest.mark.parametrize(
    "override, message",
    [
        ("world_model.detr=3", "did you mean world_model.deter"),
        ("world_model.deter=abc", "world_model.deter: expected an integer"),
        ("world_model.latent=binary", "not one of gaussian, categorical"),
        ("deter", "must look like key.sub=value"),
    ],
)
def test_bad_overrides_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", None, [override])


def test_unknown_preset_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        preset("huge")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config("tiny", bad)


def test_saved_config_round_trips() -> None:
    config = load_config("small", None, ["world_model.deter=96", "seed=7"])
    rebuilt = config_from_dict(config.to_dict())
    assert rebuilt == config
    assert rebuilt.world_model_hash() == config.world_model_hash()
    assert load_config("small", None, ["world_model.deter=97"]).world_model_hash() != config.world_model_hash()
