"""Training-step speed: updates per second and peak memory per configuration.

    uv run python benchmarks/train_step.py                       # small + paper-dmc, DreamerV2 and transfer
    uv run python benchmarks/train_step.py --presets small --teachers 0,1,2,4,6 --device cuda
    uv run python benchmarks/train_step.py --presets paper-dmc --device cuda --precision 16 --compile
    uv run python benchmarks/train_step.py --presets paper-dmc --device cuda --precision 16 --compile --compile-mode reduce-overhead
    uv run python benchmarks/train_step.py --presets paper-dmc --teachers 0,6 --scorer paper     # teachers imagining alongside
    uv run python benchmarks/train_step.py --presets small --teachers 0,apv,isodream --threads 1   # the baselines

Each configuration runs in a fresh subprocess so that its peak memory is its own (resident set on
the CPU, torch.cuda.max_memory_allocated on CUDA). On CUDA every timed phase ends with
torch.cuda.synchronize(), so the times are the GPU's, not the kernel launches'. Batches are
synthetic but shaped like replay batches, teacher features included (the transfer update reads
stored teacher states, see DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


BASELINES = ("apv", "isodream")
"""`--teachers` entries that measure a baseline agent (docs/baselines.md) instead of a teacher count."""


def _teacher_spec(text: str) -> int | str:
    return text if text in BASELINES else int(text)


def measure(
    preset_name: str, teachers: int | str, batch_size: int, length: int, updates: int, device_name: str, threads: int,
    precision: int = 32, compiled: bool = False, selection: str = "per_step", scorer: str | None = None,
    compile_mode: str = "default",
) -> dict:
    import resource

    import torch

    from vid2act_core.config import preset
    from vid2act_core.host_memory import keep_freed_host_memory
    from vid2act_core.mkl_dispatch import enable_mkl_avx512
    from vid2act_core.teachers import TeacherEnsemble
    from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY, SourcePairs, TransferAgent
    from vid2act_core.world_model import WorldModel

    torch.set_num_threads(threads)
    keep_freed_host_memory()  # as the vid2act commands do (configure_threads)
    enable_mkl_avx512()
    torch.manual_seed(0)
    device = torch.device(device_name)
    config = preset(preset_name)
    config.train.batch_size, config.train.batch_length = batch_size, length
    config.train.precision, config.train.compile, config.train.compile_mode = precision, compiled, compile_mode
    config.transfer.imagination_selection = selection
    if scorer is not None:
        config.transfer.scorer = scorer
    action_dim = 6
    ensemble, sources = None, None
    baseline = teachers if teachers in BASELINES else None
    teachers = 0 if baseline else teachers
    if teachers:
        teacher_config = preset(preset_name).world_model
        teacher_config.use_reward_head = False
        models = [WorldModel(teacher_config, action_dim) for _ in range(teachers)]
        ensemble = TeacherEnsemble(models, [f"teacher{i}" for i in range(teachers)])
        feature_size = ensemble.feature_size
        sources = [SourcePairs(f"teacher{i}", torch.randn(5000, feature_size), torch.rand(5000, action_dim) * 2 - 1) for i in range(teachers)]
    else:
        config.transfer.distill = False
    if baseline == "apv":  # a fresh action-free part: the same sizes and cost as a pretrained one
        from vid2act_core.baselines.apv import APVAgent

        agent = APVAgent(config, action_dim, device)
    elif baseline == "isodream":
        from vid2act_core.baselines.isodream import IsoDreamAgent

        agent = IsoDreamAgent(config, action_dim, device)
    else:
        agent = TransferAgent(config, action_dim, device, ensemble, sources)
    batch = {
        "image": torch.randint(0, 255, (batch_size, length, 64, 64, 3), dtype=torch.uint8, device=device),
        "action": torch.rand(batch_size, length, action_dim, device=device) * 2 - 1,
        "reward": torch.rand(batch_size, length, device=device),
        "is_first": torch.zeros(batch_size, length, dtype=torch.bool, device=device),
        "is_terminal": torch.zeros(batch_size, length, dtype=torch.bool, device=device),
    }
    batch["is_first"][:, 0] = True
    if teachers:
        for key in (TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY):
            batch[key] = torch.randn(batch_size, length, teachers, ensemble.feature_size, device=device)

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    agent.train_step(batch)  # warm-up (and compilation, with --compile)
    synchronize()
    model_seconds = behaviour_seconds = extra_seconds = 0.0
    for _ in range(updates):
        started = time.perf_counter()
        output, _ = agent.train_world_model(batch)
        synchronize()
        middle = time.perf_counter()
        agent.train_behaviour(batch, output)
        synchronize()
        behaviour_done = time.perf_counter()
        agent.after_update(batch)
        synchronize()
        ended = time.perf_counter()
        model_seconds += middle - started
        behaviour_seconds += behaviour_done - middle
        extra_seconds += ended - behaviour_done
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = model_seconds + behaviour_seconds + extra_seconds
    return {
        "preset": preset_name,
        "teachers": baseline or teachers,
        "batch": f"{batch_size}x{length}",
        "world_model_updates_per_s": updates / model_seconds,
        "actor_critic_updates_per_s": updates / behaviour_seconds,
        "updates_per_s": updates / total,
        "peak_mb": peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="small,paper-dmc", help="comma-separated presets")
    parser.add_argument("--teachers", default="0,1,2,4,6", help="teacher counts (0 = --no-distill, DreamerV2), or apv / isodream for a baseline")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", type=int, choices=(32, 16), default=32, help="16: bf16 autocast (CUDA only)")
    parser.add_argument("--compile", action="store_true", help="torch.compile encoder, decoder and GRU cell")
    parser.add_argument("--compile-mode", default="default", choices=("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"),
                        help="train.compile_mode with --compile (reduce-overhead: CUDA graphs on CUDA)")
    parser.add_argument("--selection-teachers", type=int, default=4,
                        help="teachers for the per-step vs per-rollout task-selection line (0: skip it)")
    parser.add_argument("--scorer", default=None, choices=("prediction_error", "paper", "mlp", "similarity"),
                        help="transfer.scorer for the teacher rows (default: the preset's); paper, mlp and similarity read "
                             "teacher states, so per-step selection runs the teachers' imagination alongside the student's")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        preset_name, teachers, selection = (args.one.split(":") + ["per_step"])[:3]
        print(json.dumps(measure(preset_name, _teacher_spec(teachers), args.batch, args.length, args.updates, args.device, args.threads,
                                 args.precision, args.compile, selection, args.scorer, args.compile_mode)))
        return
    on_cuda = args.device.startswith("cuda")
    if on_cuda:
        import torch

        if not torch.cuda.is_available():
            sys.exit(f"error: --device {args.device}: CUDA is not available (torch {torch.__version__}); use --device cpu")
        print(f"{torch.cuda.get_device_name(torch.device(args.device))}, torch {torch.__version__}, "
              f"precision {args.precision}, compile {args.compile} (mode {args.compile_mode}); peak = torch.cuda.max_memory_allocated")
    else:
        from vid2act_core.mkl_dispatch import reason_to_skip

        print(f"CPU, {args.threads} thread(s); MKL AVX-512 kernels on AMD: {reason_to_skip() or 'on in every row'}")
    print(f"teacher rows: transfer.scorer = {args.scorer or 'the preset default'}")
    peak_label = "GPU MB" if on_cuda else "peak MB"
    header = f"{'preset':<10} {'teachers':>8} {'batch':>6} {'WM upd/s':>9} {'AC upd/s':>9} {'upd/s':>7} {'vs none':>8} {peak_label:>8}"
    print(header)
    print("-" * len(header))
    def run_one(spec: str) -> subprocess.CompletedProcess:
        command = [sys.executable, __file__, "--one", spec, "--batch", str(args.batch),
                   "--length", str(args.length), "--updates", str(args.updates), "--device", args.device,
                   "--threads", str(args.threads), "--precision", str(args.precision)] + (["--compile"] if args.compile else []) \
            + (["--scorer", args.scorer] if args.scorer else []) + ["--compile-mode", args.compile_mode]
        return subprocess.run(command, capture_output=True, text=True)

    failed = []  # a failed row does not stop the others; the exit status says so (benchmarks/gpu_check.sh)
    for preset_name in args.presets.split(","):
        baseline = None
        for teachers in [_teacher_spec(count) for count in args.teachers.split(",")]:
            completed = run_one(f"{preset_name}:{teachers}")
            if completed.returncode != 0:
                print(f"{preset_name:<10} {teachers:>8} failed: {_last_line(completed.stderr)}", flush=True)
                failed.append(f"{preset_name}:{teachers}")
                continue
            row = json.loads(completed.stdout.strip().splitlines()[-1])
            if teachers == 0:
                baseline = row["updates_per_s"]
            ratio = f"{baseline / row['updates_per_s']:.2f}x" if baseline else "-"
            print(f"{preset_name:<10} {teachers:>8} {row['batch']:>6} {row['world_model_updates_per_s']:>9.2f} "
                  f"{row['actor_critic_updates_per_s']:>9.2f} {row['updates_per_s']:>7.2f} {ratio:>8} {row['peak_mb']:>8.0f}", flush=True)
    if args.selection_teachers:
        # Algorithm 1 re-selects the task at every imagined step (teachers imagine alongside the student).
        for preset_name in args.presets.split(","):
            rates = {}
            for selection in ("per_step", "per_rollout"):
                completed = run_one(f"{preset_name}:{args.selection_teachers}:{selection}")
                if completed.returncode != 0:
                    print(f"{preset_name} {selection} failed: {_last_line(completed.stderr)}", flush=True)
                    failed.append(f"{preset_name}:{args.selection_teachers}:{selection}")
                    break
                rates[selection] = json.loads(completed.stdout.strip().splitlines()[-1])["updates_per_s"]
            else:
                overhead = rates["per_rollout"] / rates["per_step"] - 1
                print(f"{preset_name}: task selection with {args.selection_teachers} teachers: per-step {rates['per_step']:.2f} upd/s, "
                      f"per-rollout {rates['per_rollout']:.2f} upd/s; per-step costs {100 * overhead:+.1f}% per update", flush=True)
    if failed:
        sys.exit(f"error: {len(failed)} configuration(s) failed: {', '.join(failed)}")


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output (killed?)"


if __name__ == "__main__":
    main()
