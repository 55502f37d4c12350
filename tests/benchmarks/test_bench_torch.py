"""The benchmark's torch path (`benchmarks/torch_ffjord.py`): its TensorFlow mirror computes
the PyTorch field, and the benchmark's evaluator scores the mirror as torchdiffeq scores the
PyTorch flow. Needs torch and torchdiffeq: skipped without them, except under
SUPPORT_REQUIRE_TORCH=1 (`nox -s torch`, which installs them), where they must import."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("SUPPORT_REQUIRE_TORCH") == "1":
    import torch
    import torchdiffeq  # noqa: F401
else:
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchdiffeq")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_ffjord  # noqa: E402
import torch_ffjord  # noqa: E402

pytestmark = pytest.mark.slow


def _flow(seed: int, *, num_blocks: int = 1, end_time: float = 0.8):
    """A flow whose weights are moved away from the initialisation (so time matters)."""
    flow = torch_ffjord.setup(seed, num_blocks)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
        for k, block in enumerate(flow.blocks):
            block.sqrt_end_time.fill_((end_time + 0.1 * k) ** 0.5)
    return flow


def test_the_mirror_computes_the_reversed_rescaled_torch_field():
    flow = _flow(0)
    (field,), sync = torch_ffjord.tf_mirror(flow)
    block = flow.blocks[0]
    end_time = float(block.end_time.detach())
    rng = np.random.default_rng(0)
    z = rng.normal(size=(64, 2)).astype(np.float32)
    for s in (0.0, 0.3, 1.0):
        with torch.no_grad():
            t = torch.tensor(end_time * (1 - s))
            expected = -end_time * block.dynamics.field(t, torch.from_numpy(z)).numpy()
        np.testing.assert_allclose(field(np.float32(s), z).numpy(), expected, atol=1e-5)
    # After a training step's change of the weights, `sync` carries it to the mirror.
    with torch.no_grad():
        block.dynamics.field.layers[0].linear.weight.mul_(2.0)
        block.sqrt_end_time.fill_(0.5)
    stale = field(np.float32(0.3), z).numpy()
    sync()
    with torch.no_grad():
        t = torch.tensor(0.25 * 0.7)
        expected = -0.25 * block.dynamics.field(t, torch.from_numpy(z)).numpy()
    assert np.abs(stale - expected).max() > 1e-2
    np.testing.assert_allclose(field(np.float32(0.3), z).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("num_blocks", [1, 2])
def test_the_evaluator_scores_the_mirror_as_torchdiffeq_scores_the_torch_flow(num_blocks):
    flow = _flow(1, num_blocks=num_blocks)
    fields, _ = torch_ffjord.tf_mirror(flow)
    points = np.random.default_rng(1).normal(size=(8, 2)).astype(np.float32)
    with torch.no_grad():  # exact trace, dopri5 at tight tolerances, in float64
        exact = flow.double().log_prob(
            torch.from_numpy(points).double(), adjoint=False, rtol=1e-10, atol=1e-10
        )
    for chosen in (slice(0, 8), slice(3, 4)):
        nll = bench_ffjord._reference_nll(fields, points[chosen], base_scale=1.0)()
        assert nll == pytest.approx(-float(exact[chosen].mean()), abs=2e-4)


def test_a_train_step_counts_only_the_forward_calls_and_moves_the_end_time():
    flow = torch_ffjord.setup(2)
    step = torch_ffjord.make_train_step(flow)
    batch = next(iter(torch_ffjord.epochs(np.ones((256, 2), np.float32), 1, seed=0)))
    batch = next(batch())
    assert batch.shape == (torch_ffjord.CONFIG["BATCH_SIZE"], 2)
    with torch.no_grad():  # the same forward solve, alone
        flow.log_prob(batch)
    forward_only = flow.calls()
    before = float(flow.blocks[0].end_time.detach())
    loss, forward_calls = step(batch)
    assert forward_calls == forward_only >= 7  # dopri5: at least one step of 6 stages + 1
    assert flow.calls() > forward_calls
    assert np.isfinite(float(loss))
    assert float(flow.blocks[0].end_time.detach()) != before


def test_an_epoch_is_one_shuffled_pass_in_full_batches():
    points = np.arange(2 * 250, dtype=np.float32).reshape(250, 2)
    first, second = (list(epoch()) for epoch in torch_ffjord.epochs(points, 2, seed=3))
    assert [len(b) for b in first] == [100, 100]
    seen = torch.cat(first)[:, 0].numpy() / 2
    assert len(set(seen.tolist())) == 200 and set(seen.tolist()) <= set(range(250))
    assert not torch.equal(torch.cat(first), torch.cat(second))


def test_one_torch_epoch_runs_as_the_benchmark_runs_it(tmp_path):
    out = tmp_path / "torch.json"
    command = [sys.executable, str(BENCHMARKS / "bench_ffjord.py"), "--path", "torch"]
    command += ["--out", str(out), "--seed=0", "--torch-epochs=1"]
    subprocess.run(command, check=True, capture_output=True)
    result = json.loads(out.read_text())
    assert result["path"] == "torch" and result["epochs"] == 1 and result["steps"] == 81
    assert result["tensorflow_imported_before_training"] is False  # TensorFlow off the clock
    assert result["torch_threads"] == os.cpu_count()
    assert result["nfe_per_step_early"] >= 7 and 0.4 < result["true_density_nll"] < 0.6
    assert result["final_gap"] == pytest.approx(result["final_nll"] - result["true_density_nll"])
    assert result["first_step_since_start"] < result["curve"][0]["seconds"]
