"""The sweep benchmark's bookkeeping: a run that fails is named, not counted as a finished run."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_sweep  # noqa: E402


class _Engine:
    """Ends every run at once, failing the seeds in `failing`."""

    def __init__(self, failing):
        self.failing = failing
        self.seen = []

    def run(self, tasks, done):
        for name, _, parameters in tasks:
            self.seen.append(parameters)
            seed = parameters["SEED"]
            if seed in self.failing:
                done(name, {"status": "failed", "error_name": "AssertionError", "error_value": "x"})
            else:
                done(name, {"status": "ok", "error_name": None, "error_value": None})


def test_each_run_gets_its_own_seed_and_a_failed_run_is_named():
    engine = _Engine(failing={2})
    seconds, ok, failures = bench_sweep._time(engine, b"{}", {"NUM_SAMPLES": 10}, runs=4)
    assert [p["SEED"] for p in engine.seen] == [0, 1, 2, 3]
    assert all(p["NUM_SAMPLES"] == 10 for p in engine.seen)
    assert ok == 3 and seconds >= 0
    assert failures == ["seed=2: failed, AssertionError: x"]


def test_the_benchmark_exits_non_zero_when_a_run_fails(monkeypatch, capsys):
    monkeypatch.setattr(bench_sweep, "Sequential", lambda: _Engine(failing={1}))
    monkeypatch.setattr(bench_sweep, "LocalEngine", lambda *a: _Engine(failing=set()))
    monkeypatch.setattr(bench_sweep, "DaskEngine", lambda *a: _Engine(failing=set()))
    assert bench_sweep.main(["--runs", "2"]) == 1
    out = capsys.readouterr().out
    assert "sequential, seed=1: failed, AssertionError: x" in out
    assert "| sequential |" in out and "| 1 |" in out
