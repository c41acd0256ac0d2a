"""Apply plausible slips to the core, one at a time, and report which ones the named tests catch.

    uv run python tests/mutations.py                 # every slip in SLIPS
    uv run python tests/mutations.py critic-target   # the named ones
    uv run python tests/mutations.py --list          # names, files and the tests that should catch each

Not part of the suite (pytest collects `test_*.py` only). The slips are applied to a scratch copy
of the repository (every tracked and untracked, not ignored, file: uncommitted work included), never
to the working tree: the copy's package sources come first on PYTHONPATH, so the shared
environment's editable installs are shadowed, not changed. The named tests are first run on the
unchanged copy (they must pass there), then once per slip. A slip is caught when a test fails
(pytest exit status 1); a slip whose source text is no longer in its file is reported as stale, so
that the list is kept up to date with the code. Exit status 0 when every slip is caught.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = "packages/vid2act-core/src/vid2act_core"


@dataclass(frozen=True)
class Slip:
    """One deliberate bug: the exact source text and its replacement, and the tests that must catch it."""

    name: str
    path: str
    """File, relative to the repository root."""
    before: str
    """Exact text, found exactly once in the file."""
    after: str
    tests: tuple[str, ...]
    """pytest node ids or files (fast ones)."""
    effect: str
    """What would silently change."""


SLIPS: tuple[Slip, ...] = (
    Slip(
        "critic-target",
        f"{CORE}/actor_critic.py",
        "target_values = self.slow_critic(features)",
        "target_values = self.critic(features)",
        ("tests/core/test_core_paths.py::test_lambda_returns_bootstrap_from_the_slow_critic_and_train_the_online_one",),
        "lambda-returns bootstrap from the online critic, not the slow target",
    ),
    Slip(
        "kl-direction",
        f"{CORE}/losses.py",
        "kl_prior_side = kl_fn(detach_state(post), prior).mean()\n    kl_post_side = kl_fn(post, detach_state(prior)).mean()",
        "kl_prior_side = kl_fn(prior, detach_state(post)).mean()\n    kl_post_side = kl_fn(detach_state(prior), post).mean()",
        ("tests/core/test_core_losses.py::test_balanced_kl_is_kl_of_the_posterior_from_the_prior_on_both_sides",),
        "the balanced KL is KL(prior || post) on both sides",
    ),
    Slip(
        "error-temperature",
        f"{CORE}/transfer/scorers.py",
        "(-self.error_ema.log() / self.temperature)",
        "(-self.error_ema.log() * self.temperature)",
        ("tests/core/test_method_scorers.py::test_prediction_error_temperature_divides_the_log_error",),
        "the prediction-error logits multiply by the temperature",
    ),
    Slip(
        "error-ema",
        f"{CORE}/transfer/scorers.py",
        "self.error_ema.mul_(self.decay).add_((1 - self.decay) * errors)",
        "self.error_ema.mul_(1 - self.decay).add_(self.decay * errors)",
        ("tests/core/test_method_scorers.py::test_prediction_error_ema_keeps_decay_of_the_old_value",),
        "the EMA keeps 1 - decay of the old value",
    ),
    Slip(
        "pairing",
        f"{CORE}/transfer/sources.py",
        "actions.append(episode_actions[0, 1:])",
        "actions.append(episode_actions[0, :-1])",
        (
            "tests/core/test_transfer_core.py::test_source_pairs_pair_each_teacher_posterior_with_the_next_stored_action",
            "tests/teachers/test_teacher_replay_set.py::test_registered_set_equals_source_pairs_and_round_trips",
        ),
        "action replay pairs s_t with a_t (the action that led to it) instead of a_{t+1}",
    ),
    Slip(
        "vae-kl-log-variance",
        f"{CORE}/transfer/action_vae.py",
        "(1 + 2 * log_std - mean.square() - std.square())",
        "(1 + log_std - mean.square() - std.square())",
        ("tests/core/test_transfer_core.py::test_vae_loss_terms_on_a_case_with_a_known_answer",),
        "the VAE's KL reads log sigma as log sigma^2",
    ),
    Slip(
        "isodream-free-kl",
        f"{CORE}/baselines/isodream_model.py",
        "config.kl_scale * (kl_loss + free_kl_loss)",
        "config.kl_scale * kl_loss",
        ("tests/core/test_isodream.py::test_inverse_dynamics_is_in_the_world_model_loss_and_trains",),
        "Iso-Dream trains without the non-controllable branch's KL",
    ),
    Slip(
        "apv-af-kl-direction",
        f"{CORE}/baselines/apv.py",
        "self.rssm.action_free.kl, af_posts, af_priors,",
        "self.rssm.action_free.kl, af_priors, af_posts,",
        ("tests/core/test_apv.py::test_action_free_kl_is_left_out_of_the_fine_tuning_loss_at_its_published_weight_0",),
        "APV logs the action-free KL the wrong way round",
    ),
    Slip(
        "stochastic-counted-as-train",
        f"{CORE}/transfer/agent.py",
        'self.selected_counts["train" if mode == "explore" else "eval"]',
        'self.selected_counts["eval" if mode == "eval" else "train"]',
        ("tests/core/test_method_evaluation.py::test_selection_shares_are_counted_apart_for_training_and_evaluation",),
        "stochastic evaluation steps count as training selections",
    ),
    # Slips the suite caught before the tests above were written.
    Slip(
        "kl-balance-swapped",
        f"{CORE}/losses.py",
        "loss = balance * torch.maximum(kl_prior_side, free) + (1 - balance) * torch.maximum(kl_post_side, free)",
        "loss = (1 - balance) * torch.maximum(kl_prior_side, free) + balance * torch.maximum(kl_post_side, free)",
        ("tests/core/test_core_losses.py",),
        "80% of the KL gradient goes to the posterior",
    ),
    Slip(
        "lambda-swapped",
        f"{CORE}/losses.py",
        "((1 - lambda_) * values[:, t + 1] + lambda_ * next_return)",
        "(lambda_ * values[:, t + 1] + (1 - lambda_) * next_return)",
        ("tests/core/test_core_losses.py",),
        "lambda-returns weight the bootstrap by lambda",
    ),
    Slip(
        "continuation-target",
        f"{CORE}/losses.py",
        "1.0 - is_terminal.float()",
        "is_terminal.float()",
        ("tests/core/test_core_losses.py",),
        "the continuation head learns is_terminal",
    ),
    Slip(
        "selection-argmin",
        f"{CORE}/transfer/selection.py",
        "return weights.argmax(-1)",
        "return weights.argmin(-1)",
        ("tests/core/test_method_uniform.py::test_learned_weights_select_argmax_and_name_teachers",),
        "k = argmin W",
    ),
    Slip(
        "error-unnormalised",
        f"{CORE}/transfer/scorers.py",
        "return error / spread",
        "return error",
        ("tests/core/test_method_scorers.py::test_prediction_error_w_follows_each_teachers_normalised_prediction_error",),
        "prediction errors are compared across latent scales",
    ),
)


def _copy_repository(target: Path) -> None:
    """Every tracked and untracked (not ignored) file of the working tree, into `target`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for relative in filter(None, listed):
        source = REPO / relative
        if source.is_file():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def _environment(copy: Path) -> dict[str, str]:
    """The copy's package sources ahead of the environment's editable installs, one thread."""
    sources = sorted(str(path) for path in (copy / "packages").glob("*/src"))
    sources += [str(path) for path in (copy / "examples").glob("*/src")]
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    environment["PYTHONPATH"] = os.pathsep.join([*sources, *filter(None, [os.environ.get("PYTHONPATH")])])
    return environment


def _check_imports_from(copy: Path, environment: dict[str, str]) -> None:
    located = subprocess.run(
        [sys.executable, "-c", "import vid2act_core; print(vid2act_core.__file__)"],
        cwd=copy, env=environment, capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not Path(located).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(f"the scratch copy's vid2act_core is shadowed by {located}")


def _run_tests(copy: Path, environment: dict[str, str], tests: tuple[str, ...]) -> tuple[int, str]:
    """pytest's exit status and the last lines of its output."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--no-header", *tests],
        cwd=copy, env=environment, capture_output=True, text=True, timeout=1800,
    )
    return result.returncode, "\n".join((result.stdout + result.stderr).strip().splitlines()[-3:])


def _outcome(copy: Path, environment: dict[str, str], slip: Slip) -> str:
    """'caught', 'MISSED', 'stale' (source text not found once) or 'error' (pytest could not run the tests)."""
    path = copy / slip.path
    original = path.read_text()
    if original.count(slip.before) != 1:
        return "stale"
    path.write_text(original.replace(slip.before, slip.after))
    try:
        status, _ = _run_tests(copy, environment, slip.tests)
    finally:
        path.write_text(original)
    return {0: "MISSED", 1: "caught"}.get(status, "error")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="slips to try (default: all)")
    parser.add_argument("--list", action="store_true", help="list the slips and exit")
    args = parser.parse_args(argv)
    by_name = {slip.name: slip for slip in SLIPS}
    unknown = sorted(set(args.names) - set(by_name))
    if unknown:
        parser.error(f"unknown slip(s) {', '.join(unknown)} (known: {', '.join(by_name)})")
    chosen = [by_name[name] for name in args.names] if args.names else list(SLIPS)
    if args.list:
        for slip in chosen:
            print(f"{slip.name}: {slip.path}: {slip.effect}\n    " + "\n    ".join(slip.tests))
        return 0
    with tempfile.TemporaryDirectory(prefix="vid2act-mutations-") as scratch:
        copy = Path(scratch)
        _copy_repository(copy)
        environment = _environment(copy)
        _check_imports_from(copy, environment)
        every_test = tuple(dict.fromkeys(test for slip in chosen for test in slip.tests))
        status, tail = _run_tests(copy, environment, every_test)
        if status != 0:
            print(f"the named tests fail on the unchanged code (pytest exit status {status}):\n{tail}")
            return 2
        outcomes = []
        for slip in chosen:
            outcome = _outcome(copy, environment, slip)
            outcomes.append(outcome)
            print(f"{outcome:7} {slip.name:28} {slip.effect}  [{', '.join(test.rsplit('::', 1)[-1] for test in slip.tests)}]", flush=True)
    caught = outcomes.count("caught")
    print(f"{caught}/{len(chosen)} caught")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
