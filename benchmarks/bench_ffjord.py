"""FFJORD on the moons: the tutorial's set-up against this project's default path, side by side.

Usage::

    python benchmarks/bench_ffjord.py            # full run, 3 seeds (15-30 minutes on 2 cores)
    python benchmarks/bench_ffjord.py --smoke    # a few epochs of each path, one seed, the
                                                 # tutorial with one flow (a CI check)
    python benchmarks/bench_ffjord.py --with-torch  # and the torch anchor: about 45 minutes

Paths: the tutorial ("baseline"), this project's default ("fast") and the same with
Hutchinson's trace ("hutchinson"); with `--with-torch` also the FFJORD paper's toy set-up in
PyTorch + torchdiffeq ("torch", `torch_ffjord.py`), scored through a TensorFlow mirror; named in
`--only` (comma-separated), also the tutorial with TFP's Hutchinson trace
("baseline_hutchinson").
Each run of a path with one seed (`--seeds`, 3 by default) is a fresh Python process, one
after the other, never in parallel, so no two share the two cores; every run trains on the
same seeded 8192 moons points and is scored after every epoch on the same 2048 fresh
points. The held-out NLL always uses the exact trace and an adaptive solver at tight
tolerances (DormandPrince, rtol = atol = 1e-5), for every path, so a fixed-step path cannot
look better than the continuous model it learned. Clocks start when the process starts
(imports included) and stop while the benchmark itself evaluates.

Writes `build/bench/ffjord.json` (or `ffjord-smoke.json`): per run the time to the first
step (trace and compile), median step times early and late, the solver's forward function
evaluations per step, the NLL-against-time curve and the time to reach `--target` nats; per
path their median, min and max over the seeds; the ratios of those times to the tutorial's;
and `ffjord.png`, held-out NLL against wall time for every run (`bench_report.py`). Prints a
short table. A full run (the default paths, 3 seeds or more, nothing overridden) also appends
its summary to `benchmarks/runs.csv`, one row per run: the benchmark's history. Serves
`notebooks/02_ffjord_moons.ipynb` (the fast path is its default configuration).
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()  # before the heavy imports: they count

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

__all__ = ["FAST", "main"]

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "build" / "bench"
#: One row per full run (`bench_report.RUN_COLUMNS`), kept in git.
RUNS_CSV = ROOT / "benchmarks" / "runs.csv"
#: The held-out NLL every path races to, in nats.
TARGET = 0.55
BASELINE_EPOCHS = 100

NOTEBOOK = ROOT / "notebooks" / "02_ffjord_moons.ipynb"
#: The notebook parameters that define the project's default path (read from its parameters
#: cell, so the benchmark follows the notebook); `--fast-config` overrides them.
FAST_PARAMETERS = (
    "NUM_FLOWS",
    "HIDDEN_SIZES",
    "BATCH_SIZE",
    "LEARNING_RATE",
    "AVERAGE",
    "EPOCHS",
    "SOLVER",
    "ATOL",
    "RTOL",
    "TRACE",
    "KINETIC",
)
FAST: dict = {}
#: Default cap on the torch path's epochs (81 steps of 100 points each).
TORCH_EPOCHS = 40
DATASET_SIZE = 8192
HELD_OUT = 2048
NOISE = 0.06


def _data(seed: int):
    import numpy as np
    from sklearn.datasets import make_moons

    train = make_moons(DATASET_SIZE, noise=NOISE, random_state=seed)[0].astype(np.float32)
    held_out = make_moons(HELD_OUT, noise=NOISE, random_state=seed + 1)[0].astype(np.float32)
    return train, held_out


def _reference_nll(fields, held_out, base_scale=0.8):
    """Exact-trace NLL of the flow defined by `fields`, adaptive solver at tight tolerances.

    The base is N(0, `base_scale`^2 I): 0.8 as in the tutorial, 1 for the torch path.
    """
    import numpy as np
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfb, tfd = tfp.bijectors, tfp.distributions
    solver = tfp.math.ode.DormandPrince(rtol=1e-5, atol=1e-5)
    bijectors = [
        tfb.FFJORD(
            state_time_derivative_fn=field,
            ode_solve_fn=solver.solve,
            trace_augmentation_fn=tfb.ffjord.trace_jacobian_exact,
        )
        for field in fields
    ]
    base = tfd.MultivariateNormalDiag(np.zeros(2, np.float32), np.full(2, base_scale, np.float32))
    distribution = tfd.TransformedDistribution(base, tfb.Chain(bijectors[::-1]))
    log_prob = tf.function(distribution.log_prob, jit_compile=True)
    points = tf.constant(held_out)
    return lambda: -float(tf.reduce_mean(log_prob(points)))


def _run_baseline(args, train, held_out, trace="exact"):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tensorflow as tf
    import tutorial_baseline as tb

    tf.random.set_seed(args.seed)  # the tutorial sets none: seeded so runs can be compared
    flows = args.baseline_flows or tb.NUM_FLOWS
    distribution, fields, counter = tb.build_baseline(num_flows=flows, trace=trace)
    dataset = tb.make_dataset(train)
    train_step = tb.make_train_step(distribution, counter)
    epochs = (lambda: iter(dataset) for _ in range(args.baseline_epochs))  # as the tutorial
    return _train(args, train_step, epochs, _reference_nll(fields, held_out))


def _run_fast(args, train, held_out):
    import support
    from support.data import moons_dataset
    from support.flows import ffjord, flow_eval
    from support.training import optimizers, steps

    support.setup(args.seed, deterministic=False)
    flow = ffjord.build_ffjord(
        FAST["NUM_FLOWS"],
        FAST["HIDDEN_SIZES"],
        solver=FAST["SOLVER"],
        atol=FAST["ATOL"],
        rtol=FAST["RTOL"],
        trace=FAST["TRACE"],
    )
    if args.fast_epochs is None:  # the notebook's EPOCHS = 0: its fast recipe's epochs
        args.fast_epochs = ffjord.RECIPE_EPOCHS["fast"]
    dataset = moons_dataset(train, FAST["BATCH_SIZE"], seed=args.seed)
    total_steps = args.fast_epochs * (len(train) // FAST["BATCH_SIZE"])
    optimizer = optimizers.decaying_adam(
        FAST["LEARNING_RATE"], total_steps, average=FAST["AVERAGE"] or None
    )
    variables = list(flow.trainable_variables)
    fixed = getattr(flow.solver, "num_steps", None)
    # Forward evaluations per step are fixed for a fixed-step solver; -1: not counted.
    evaluations = FAST["NUM_FLOWS"] * fixed * flow.solver.stages if fixed else -1

    # `support.fit`'s own step (`support.training.steps`): loss, gradients, the finite checks and
    # the
    # update in one graph call (the loss and gradients with XLA when the solver allows it),
    # the optimizer built before the first step as `fit` builds it.
    optimizer = steps.prepare_optimizer(optimizer, None, variables, None)
    loss = functools.partial(flow.loss, kinetic=FAST["KINETIC"])  # the notebook's training loss
    step = steps.Step(
        loss, variables, optimizer, jit_compile=ffjord.xla_trainable(flow.solver, flow.trace)
    )
    first_step = {}

    def train_step(batch):
        if not first_step:  # split the first step: tracing to a graph, then XLA compiling
            started = time.perf_counter()
            step.update.get_concrete_function(batch)
            first_step["trace_seconds"] = time.perf_counter() - started
        result = steps.train_step(step, (batch,))
        if result.problem:
            raise RuntimeError(f"the fast path's training failed: {result.problem}")
        return result.loss, evaluations

    # As `support.fit` reads it: one iterator over the repeated dataset, no epoch-end stall.
    iterator = iter(dataset.repeat())
    per_epoch = int(dataset.cardinality())
    epochs = (lambda: (next(iterator) for _ in range(per_epoch)) for _ in range(args.fast_epochs))
    # The model at each evaluation is the one `support.fit` would hand over if it stopped
    # there: with an averaging optimizer, the weights' average (swapped in, clock paused).
    score = _reference_nll(flow.state_derivatives, held_out)

    def evaluate():
        with optimizers.averaged_weights(optimizer, variables):
            return score()

    result = _train(args, train_step, epochs, evaluate)
    optimizers.use_averages(optimizer, variables)  # as `fit` ends
    result["first_step_trace_seconds"] = first_step["trace_seconds"]
    result["final_nll_own_solver"] = flow_eval.held_out_nll(flow, held_out)[0]
    result["config"] = dict(FAST)
    return result


def _lazy(make_evaluate):
    """A scorer that `make_evaluate()` builds at its first call: inside the first evaluation,
    so on the paused clock (the torch path imports TensorFlow there)."""
    built = []

    def evaluate():
        if not built:
            built.append(make_evaluate())
        return built[0]()

    return evaluate


def _train(args, train_step, epochs, evaluate):
    """Runs `train_step` over `epochs` (callables returning one epoch's batches each), scoring
    the model with `evaluate()` (the held-out NLL) after each epoch, off the clock."""
    import numpy as np

    paused = 0.0  # seconds spent in the benchmark's own evaluations

    def clock():
        return time.perf_counter() - PROCESS_START - paused

    step_times, nfe, curve = [], [], []
    first_step = None
    reached = sustained = None
    for epoch, batches in enumerate(epochs, start=1):
        epoch_times = []
        for batch in batches():
            if first_step is None:
                training_start = clock()  # imports, data and model behind us
            started = time.perf_counter()
            loss, count = train_step(batch)
            loss = float(loss)
            elapsed = time.perf_counter() - started
            if first_step is None:
                first_step = {"seconds": elapsed, "since_process_start": clock()}
            else:
                epoch_times.append(elapsed)
            nfe.append(int(count))
        step_times.append(epoch_times)
        now = clock()
        started = time.perf_counter()
        nll = evaluate()
        paused += time.perf_counter() - started
        curve.append({"epoch": epoch, "seconds": now, "nll": nll, "train_loss": loss})
        print(f"  epoch {epoch:3d}  {now:7.1f} s  held-out NLL {nll:.4f}", flush=True)
        if reached is None and nll <= args.target:
            reached = now
        # A sturdier reading of the same curve: the first epoch whose NLL, averaged with the
        # two before it, is at or below the target (one lucky dip does not count).
        recent = [c["nll"] for c in curve[-3:]]
        if sustained is None and len(recent) == 3 and np.mean(recent) <= args.target:
            sustained = now
        if sustained is not None and args.stop_at_target and args.path in STOP_AT_TARGET:
            break
    early = [t for e in step_times[:3] for t in e]
    late = [t for e in step_times[-3:] for t in e]

    def since_training_start(seconds):
        return None if seconds is None else seconds - training_start

    return {
        "setup_seconds": training_start,
        "first_step_seconds": first_step["seconds"],
        "first_step_since_start": first_step["since_process_start"],
        "median_step_ms_early": 1e3 * float(np.median(early)) if early else None,
        "median_step_ms_late": 1e3 * float(np.median(late)) if late else None,
        "nfe_per_step_early": float(np.mean(nfe[: len(nfe) // 10 + 1])),
        "nfe_per_step_late": float(np.mean(nfe[-(len(nfe) // 10 + 1) :])),
        "epochs": len(curve),
        "steps": len(nfe),
        "final_nll": curve[-1]["nll"],
        "seconds_to_target": reached,
        "seconds_to_target_3_epoch_mean": sustained,
        "training_seconds_to_target": since_training_start(reached),
        "training_seconds_to_target_3_epoch_mean": since_training_start(sustained),
        "curve": curve,
    }


def _child(args) -> None:
    if args.path != "torch":  # the torch path imports TensorFlow in its first (paused) evaluation
        import support  # noqa: F401  (quiet TensorFlow start-up)

    train, held_out = _data(args.seed)
    result = PATHS[args.path](args, train, held_out)
    from support.data.moons import moons_log_prob

    result["path"] = args.path
    result["seed"] = args.seed
    result["true_density_nll"] = float(-moons_log_prob(held_out, noise=NOISE).mean())
    result["final_gap"] = result["final_nll"] - result["true_density_nll"]
    Path(args.out).write_text(json.dumps(result, indent=1))


def _cpu_model() -> str | None:
    """The CPU's model name as Linux reports it, or None elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("model name") and ":" in line:
            return line.split(":", 1)[1].strip() or None
    return None


def _machine() -> dict:
    import platform

    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "model": _cpu_model(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _report(paths: dict, args) -> dict:
    import bench_report
    import numpy as np

    for path in paths.values():
        path["summary"] = bench_report.summarise(path["runs"])
    results = {"paths": paths}
    print(bench_report.table(paths, args.target))
    if "baseline" in paths and len(paths) > 1:
        for key, label in (
            ("seconds_to_target", f"process start to NLL <= {args.target}"),
            ("seconds_to_target_3_epoch_mean", "the same, 3-epoch mean"),
            ("training_seconds_to_target", f"training start to NLL <= {args.target}"),
            ("training_seconds_to_target_3_epoch_mean", "the same, 3-epoch mean"),
        ):
            ratios = results[key.replace("seconds", "speedup")] = bench_report.ratios(paths, key)
            for name, ratio in ratios.items():
                if ratio["of_medians"]:
                    print(
                        f"speed-up of {bench_report.LABELS[name]}, {label}: "
                        f"{ratio['of_medians']:.1f}x (per seed {ratio['min']:.1f}x to "
                        f"{ratio['max']:.1f}x)"
                    )
    name = "ffjord-smoke" if args.smoke else "ffjord"
    if args.only:
        name = name.replace("ffjord", f"ffjord-{'-'.join(paths)}")
    floor = float(np.mean([r["true_density_nll"] for p in paths.values() for r in p["runs"]]))
    results["plot"] = str(
        bench_report.plot(paths, OUT_DIR / f"{name}.png", target=args.target, floor=floor)
    )
    results["json"] = str(OUT_DIR / f"{name}.json")
    return results


def _commit() -> str:
    """The checkout's commit, with `-dirty` if tracked files differ from it (the run history
    aside); empty outside a git checkout."""
    git = ["git", "-C", str(ROOT)]
    history = os.path.relpath(RUNS_CSV, ROOT)
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        return ""
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no", "--", ".", f":!{history}"],
        capture_output=True,
        text=True,
    )
    return head.stdout.strip() + ("-dirty" if changed.stdout.strip() else "")


def _is_full_run(args) -> bool:
    """A full run: every default path over 3 seeds or more, with the notebook's defaults and
    the benchmark's own settings (`--with-torch` may add its path). Only these go into
    `RUNS_CSV`, so its rows compare."""
    return (
        not args.smoke
        and not args.only
        and args.seeds is not None
        and args.seeds >= 3
        and args.target == TARGET
        and args.baseline_epochs == BASELINE_EPOCHS
        and args.baseline_flows is None
        and args.fast_epochs is None
        and args.stop_at_target
        and json.loads(args.fast_config) == {}
        and args.xla_cache is None
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few epochs of each path, 1 seed")
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per path (3; smoke: 1)")
    parser.add_argument("--target", type=float, default=TARGET, help="held-out NLL to reach")
    parser.add_argument("--baseline-epochs", type=int, default=BASELINE_EPOCHS)
    parser.add_argument(
        "--baseline-flows",
        type=int,
        default=None,
        help="the tutorial's FFJORD bijectors (its own 4; smoke: 1, which traces 4x sooner)",
    )
    parser.add_argument("--fast-epochs", type=int, default=None)
    parser.add_argument("--keep-going", dest="stop_at_target", action="store_false")
    parser.add_argument(
        "--only",
        type=_path_names,
        help="run only these paths, comma-separated: "
        + ", ".join(PATHS)
        + " (baseline_hutchinson, the tutorial with TFP's Hutchinson trace, runs only when named)",
    )
    parser.add_argument(
        "--with-torch",
        action="store_true",
        help="add the FFJORD paper's toy set-up in PyTorch + torchdiffeq (both must be "
        "installed in this Python)",
    )
    parser.add_argument(
        "--torch-epochs",
        type=int,
        default=TORCH_EPOCHS,
        help=f"most epochs of the torch path; it stops at the target before ({TORCH_EPOCHS})",
    )
    parser.add_argument(
        "--fast-config",
        default="{}",
        help="JSON overrides of the notebook's parameters, e.g. '{\"EPOCHS\": 60}'",
    )
    parser.add_argument(
        "--xla-cache",
        metavar="DIR",
        help="XLA's persistent compilation cache in DIR (a second run then starts warm); "
        "by default none, as in the notebook",
    )
    parser.add_argument("--path", choices=list(PATHS), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    only = args.only or []
    if args.with_torch and only and only != ["torch"]:
        parser.error(
            f"--with-torch adds the torch path to all paths; --only {','.join(only)} runs those"
        )
    if args.with_torch or "torch" in (*only, args.path):
        missing = _missing_torch_packages()
        if missing:
            parser.error(
                f"--with-torch (the torch path) needs {' and '.join(TORCH_PACKAGES)} in this "
                f"Python ({sys.executable}); missing: {', '.join(missing)}. "
                f"Install: {TORCH_INSTALL}"
            )
    if str(ROOT) not in sys.path:  # `tools` is developer tooling in the checkout, not installed
        sys.path.insert(0, str(ROOT))
    from tools.notebooks import declared_parameters

    defaults = declared_parameters(NOTEBOOK)
    FAST.update({name: defaults[name] for name in FAST_PARAMETERS})
    FAST.update(json.loads(args.fast_config))
    if args.seeds is None:
        args.seeds = 1 if args.smoke else 3
    full_run = not args.path and _is_full_run(args)
    if args.fast_epochs is None:
        args.fast_epochs = FAST["EPOCHS"] or None  # 0: the child takes the fast recipe's
    if args.smoke:
        args.baseline_epochs, args.fast_epochs, args.torch_epochs = 2, 3, 2
    if args.smoke and args.baseline_flows is None:
        args.baseline_flows = 1
    for name in ("baseline_epochs", "baseline_flows", "fast_epochs", "torch_epochs", "seeds"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    if args.path:
        _child(args)
        return 0

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    header = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": _machine(),
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "target_nll": args.target,
        "config": dict(FAST),
        "baseline_flows": args.baseline_flows or "the tutorial's",
        "xla_cache": args.xla_cache,
    }
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args.xla_cache:
        Path(args.xla_cache).mkdir(parents=True, exist_ok=True)
        flag = f"--tf_xla_persistent_cache_directory={Path(args.xla_cache).resolve()}"
        env["TF_XLA_FLAGS"] = f"{env.get('TF_XLA_FLAGS', '')} {flag}".strip()
    wanted = (*DEFAULT_PATHS, "torch") if args.with_torch else DEFAULT_PATHS
    names = [n for n in PATHS if n in only] if only else [n for n in PATHS if n in wanted]
    paths = {name: {"runs": []} for name in names}
    # Seed by seed, every path once per seed: a drift of the machine's load touches all alike.
    for seed in header["seeds"]:
        for name in names:
            out = OUT_DIR / f"ffjord-{name}-{os.getpid()}.part.json"
            command = [sys.executable, __file__, "--path", name, "--out", str(out)]
            command += [f"--seed={seed}", f"--target={args.target}"]
            command += [f"--baseline-epochs={args.baseline_epochs}"]
            if args.baseline_flows is not None:  # else the tutorial's own
                command.append(f"--baseline-flows={args.baseline_flows}")
            if args.fast_epochs is not None:  # else the child takes the fast recipe's
                command.append(f"--fast-epochs={args.fast_epochs}")
            command.append(f"--fast-config={json.dumps(FAST)}")
            command += [f"--torch-epochs={args.torch_epochs}"]
            if not args.stop_at_target:
                command.append("--keep-going")
            print(f"{name}, seed {seed}:", flush=True)
            subprocess.run(command, check=True, env=env)
            paths[name]["runs"].append(json.loads(out.read_text()))
            out.unlink()
    results = {**header, **_report(paths, args)}
    Path(results["json"]).write_text(json.dumps(results, indent=1))
    if args.baseline_flows is not None:
        print(f"the tutorial ran {args.baseline_flows} FFJORD bijector(s), not its own number")
    print(f"wrote {results['json']} and {results['plot']}")
    if full_run:
        import bench_report

        row = bench_report.run_row(results, commit=_commit())
        print(f"appended this run to {bench_report.append_run(RUNS_CSV, row)}")
    return 0


def _run_baseline_hutchinson(args, train, held_out):
    """The tutorial's set-up with TFP's Hutchinson estimate, `tfb.ffjord.trace_jacobian_hutchinson`
    (one Gaussian probe per solve), in place of its exact trace: what the demo offers instead."""
    return _run_baseline(args, train, held_out, trace="hutchinson")


def _run_hutchinson(args, train, held_out):
    """The fast path trained with Hutchinson's trace estimate (XLA-compiled too)."""
    FAST["TRACE"] = "hutchinson"
    return _run_fast(args, train, held_out)


def _run_torch(args, train, held_out):
    """The FFJORD paper's toy set-up in PyTorch + torchdiffeq (`torch_ffjord.py`).

    Scored by the same evaluator through a TensorFlow mirror of its field, with the paper's
    N(0, I) base. TensorFlow is imported, and the mirror built, inside the first evaluation,
    whose time is off the clock like every evaluation's.
    """
    # Recorded: True would mean TensorFlow's import was counted on this path's clock.
    tensorflow_before_training = "tensorflow" in sys.modules
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    import torch_ffjord

    flow = torch_ffjord.setup(args.seed)
    train_step = torch_ffjord.make_train_step(flow)
    epochs = torch_ffjord.epochs(train, args.torch_epochs, seed=args.seed)

    def make_evaluate():
        import support  # noqa: F401  (quiet TensorFlow start-up)

        fields, sync = torch_ffjord.tf_mirror(flow)
        score = _reference_nll(fields, held_out, base_scale=1.0)

        def evaluate():
            sync()  # the PyTorch weights of this epoch into the mirror
            return score()

        return evaluate

    result = _train(args, train_step, epochs, _lazy(make_evaluate))
    result["end_times"] = [float(block.end_time.detach()) for block in flow.blocks]
    result["torch_threads"] = torch.get_num_threads()
    result["tensorflow_imported_before_training"] = tensorflow_before_training
    result["config"] = dict(torch_ffjord.CONFIG)
    return result


PATHS = {
    "baseline": _run_baseline,
    "baseline_hutchinson": _run_baseline_hutchinson,
    "fast": _run_fast,
    "hutchinson": _run_hutchinson,
    "torch": _run_torch,
}
#: The paths a run without `--only` compares (`--with-torch` adds "torch").
DEFAULT_PATHS = ("baseline", "fast", "hutchinson")
#: The paths that stop once their 3-epoch mean reaches the target (unless `--keep-going`).
STOP_AT_TARGET = ("baseline", "baseline_hutchinson", "torch")
#: What the torch path needs in the running Python, and how to get it.
TORCH_PACKAGES = ("torch", "torchdiffeq")
TORCH_INSTALL = "python -m pip install torch torchdiffeq  (any CPU build of torch, e.g. 2.13.0)"


def _path_names(text: str) -> list[str]:
    """`--only`'s value: comma-separated path names, each one of `PATHS`."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in PATHS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown path {', '.join(map(repr, unknown)) or repr(text)}; "
            f"choose from {', '.join(PATHS)}"
        )
    return names


def _missing_torch_packages() -> list[str]:
    import importlib.util

    return [name for name in TORCH_PACKAGES if importlib.util.find_spec(name) is None]


if __name__ == "__main__":
    sys.exit(main())
