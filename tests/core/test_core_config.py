"""Presets, YAML files and --set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from vid2act_core.config import PRESET_BLOCKS, PRESETS, ConfigError, config_from_dict, load_config, preset


def test_presets_carry_the_published_settings() -> None:
    dmc = preset("paper-dmc")
    assert (dmc.world_model.stoch, dmc.world_model.deter, dmc.world_model.cnn_depth) == (50, 200, 32)
    assert (dmc.world_model.kl_balance, dmc.world_model.free_nats) == (0.8, 1.0)
    assert (dmc.train.batch_size, dmc.train.batch_length, dmc.train.train_every) == (50, 50, 5)
    assert (dmc.actor_critic.discount, dmc.actor_critic.lambda_) == (0.99, 0.95)
    metaworld = preset("paper-metaworld")
    assert (metaworld.env.action_repeat, metaworld.env.episode_steps, metaworld.train.steps) == (1, 500, 300_000)
    assert metaworld.train.prefill == 5000 and metaworld.train.eval_every == 6000
    assert set(PRESETS) == {"paper-dmc", "paper-metaworld", "small", "tiny"}


def test_paper_presets_follow_the_paper_text() -> None:
    dmc = preset("paper-dmc")  # section 5.3
    assert (dmc.train.steps, dmc.train.batch_size, dmc.actor_critic.horizon) == (400_000, 50, 50)
    assert (dmc.env.image_size, dmc.transfer.alpha, dmc.world_model.kl_scale, dmc.pretrain.steps) == (64, 1.0, 1.0, 200_000)
    # 400K environment steps are 200K policy steps at the DMC action repeat of 2.
    assert dmc.env.action_repeat is None and dmc.env.episode_steps is None  # the domain's: DMC 2 and 1000
    published = preset("paper-dmc,published-horizon")
    assert published.actor_critic.horizon == 15 and published.train == dmc.train and published.preset == "paper-dmc,published-horizon"
    metaworld = preset("paper-metaworld")  # section 5.2; batch and horizon unstated there: the published code's
    assert (metaworld.train.steps, metaworld.train.eval_episodes, metaworld.pretrain.steps) == (300_000, 10, 200_000)
    assert (metaworld.env.action_repeat, metaworld.env.episode_steps, metaworld.actor_critic.horizon) == (1, 500, 15)


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


def test_preset_stack_applies_blocks_left_to_right_and_is_recorded() -> None:
    small = preset("small")
    demo = preset(" small , cpu-demo ")
    assert demo.preset == "small,cpu-demo"
    assert demo.world_model == small.world_model and demo.actor_critic == small.actor_critic
    assert (demo.env.episode_steps, demo.train.batch_size, demo.train.batch_length) == (150, 8, 24)
    assert (demo.train.steps, demo.train.prefill, demo.pretrain.steps, demo.pretrain.eval_every) == (900, 300, 60, 30)
    assert (demo.transfer.vae_batch_size, demo.transfer.distill_units) == (4, small.transfer.distill_units)
    # Overrides come after the stack; the saved config rebuilds from the recorded stack.
    config = load_config("small,cpu-demo", None, ["train.batch_size=5"])
    assert config.train.batch_size == 5 and config.preset == "small,cpu-demo"
    assert config_from_dict(config.to_dict()) == config


def test_every_block_applies_to_every_full_preset() -> None:
    for block, values in PRESET_BLOCKS.items():
        for name in PRESETS:
            config = preset(f"{name},{block}")
            for key, value in values.items():
                section, field = key.split(".")
                assert getattr(getattr(config, section), field) == value, (name, block, key)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("small,cpu-dem", r"^unknown preset 'cpu-dem' in preset stack 'small,cpu-dem'; did you mean cpu-demo\? full presets: "),
        ("smal", r"^unknown preset 'smal'; did you mean small\? "),
        ("cpu-demo", r"^preset stack 'cpu-demo': 'cpu-demo' is an override block and cannot come first; .* e\.g\. small,cpu-demo$"),
        ("small,tiny", r"^preset stack 'small,tiny': 'tiny' is a full preset and can only come first"),
        ("small,", r"^preset stack 'small,': empty name"),
    ],
)
def test_bad_preset_stacks_raise_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(spec)
    assert "\n" not in str(caught.value)


def test_paper_updates_block_gives_200k_updates_over_400k_env_steps() -> None:
    config = preset("paper-dmc,paper-updates")
    policy_steps = config.train.steps // 2  # DMC tasks act with action repeat 2 (the task's default)
    assert config.train.train_every == 1 and policy_steps // config.train.train_every == 200_000
    default = preset("paper-dmc")
    assert policy_steps // default.train.train_every == 40_000  # the published code's ratio
