"""Gain of each landed speed optimisation, measured A/B in one process at the anchors' settings.

    uv run python benchmarks/ab_optimisations.py --threads 2 --rounds 6
    uv run python benchmarks/ab_optimisations.py --variants decoder_matmul --teachers 4
    uv run python benchmarks/ab_optimisations.py --variants decoder_subpixel --marginal

Two agents from the same seed: the reference (every optimisation listed in `SWITCHES` off) and
the variant (only the named optimisations on, or all of them with `all`; with --marginal both
arms have every other switch on); their updates alternate
(reference, variant, reference, ...) so that load from other processes hits both alike. Prints the
median seconds of the world-model phase, the behaviour phase (+ action VAE) and the whole update,
and the ratio reference / variant. The maths of each switch is checked by
tests/core/test_speed_equivalence.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anchor_setup import build_ours  # noqa: E402

SWITCHES = {
    "decoder_matmul": "the decoder's first transposed convolution (1 x 1 input) as a matmul",
    "decoder_subpixel": "the decoder's last transposed convolution's forward in sub-pixel form",
    "idle_resets": "observe skips the reset masking at steps where no sequence starts",
    "inplace_elu": "the convolutional nets' ELUs in place",
    "conv_bias_apart": "the convolutions' bias gradients summed apart from oneDNN's backward",
    "encoder_matmul": "the encoder's last convolution (2 x 2 output pixels) as a matmul over its input patches",
}


def set_switches(agent, names: set[str]) -> None:
    """Turn the named optimisations on and the others off, on this agent's modules only."""
    agent.world_model.decoder.forms.first_layer_as_matmul = "decoder_matmul" in names
    agent.world_model.decoder.forms.last_layer_as_subpixel = "decoder_subpixel" in names
    agent.world_model.rssm.skip_idle_resets = "idle_resets" in names
    agent.world_model.encoder.forms.bias_grad_apart = "conv_bias_apart" in names
    agent.world_model.decoder.forms.bias_grad_apart = "conv_bias_apart" in names
    agent.world_model.encoder.forms.last_layer_as_matmul = "encoder_matmul" in names
    for module in [*agent.world_model.encoder.net, *agent.world_model.decoder.net]:
        if isinstance(module, torch.nn.ELU):
            module.inplace = "inplace_elu" in names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6, help="timed updates per agent")
    parser.add_argument("--teachers", type=int, default=0)
    parser.add_argument("--variants", default="all", help=f"comma-separated from {', '.join(SWITCHES)}, or all")
    parser.add_argument("--marginal", action="store_true",
                        help="the reference has every other switch on: the named ones' gain on top of the rest")
    args = parser.parse_args()
    names = set(SWITCHES) if args.variants == "all" else {name.strip() for name in args.variants.split(",")}
    unknown = names - set(SWITCHES)
    if unknown:
        sys.exit(f"error: --variants: unknown {', '.join(sorted(unknown))}; choose from {', '.join(SWITCHES)}")
    torch.set_num_threads(args.threads)
    reference, variant = build_ours(args.teachers), build_ours(args.teachers)
    others = set(SWITCHES) - names if args.marginal else set()
    set_switches(reference[1]["agent"], others)
    set_switches(variant[1]["agent"], others | names)
    for update, _ in (reference, variant):
        update()  # warm-up
    times: dict[str, dict[str, list[float]]] = {"reference": {}, "variant": {}}
    for _ in range(args.rounds):
        for label, (update, _) in (("reference", reference), ("variant", variant)):
            parts = update()
            parts["total"] = parts["wm"] + parts["ac"]
            for key, value in parts.items():
                times[label].setdefault(key, []).append(value)
    print(f"torch {torch.__version__}, threads {args.threads}, teachers {args.teachers}, {args.rounds} alternating rounds, "
          f"loadavg {os.getloadavg()[0]:.1f}; variant: {', '.join(sorted(names))}"
          + (f" on top of {', '.join(sorted(others))}" if others else ""))
    print(f"{'phase':<8} {'reference s':>11} {'variant s':>10} {'speed-up':>9}")
    for key in ("wm", "ac", "total"):
        base, new = statistics.median(times["reference"][key]), statistics.median(times["variant"][key])
        print(f"{key:<8} {base:>11.3f} {new:>10.3f} {base / new:>8.2f}x")


if __name__ == "__main__":
    main()
