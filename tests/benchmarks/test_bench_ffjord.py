"""`benchmarks/bench_ffjord.py`'s command line: the optional torch path is checked before any
work and joins the run, the table and the ratios only when asked, and a full run appends its
summary to the run history (`benchmarks/runs.csv`). No training runs here: the per-path child
processes are replaced by stand-ins that write a result."""

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_ffjord  # noqa: E402
import bench_report  # noqa: E402


@pytest.fixture
def children(monkeypatch, tmp_path):
    """Records each child's command instead of running it; each writes a small result."""
    commands = []

    def run(command, check, env):
        options = dict(arg.split("=", 1) for arg in command if arg.startswith("--") and "=" in arg)
        path = command[command.index("--path") + 1]
        out = Path(command[command.index("--out") + 1])
        seed = int(options["--seed"])
        seconds = {
            "baseline": 100.0,
            "baseline_hutchinson": 80.0,
            "fast": 20.0,
            "hutchinson": 18.0,
            "torch": 50.0,
        }[path]
        curve = [{"epoch": 1, "seconds": seconds, "nll": 0.5, "train_loss": 0.5}]
        result = {"path": path, "seed": seed, "curve": curve, "true_density_nll": 0.46}
        result |= {"seconds_to_target": seconds, "final_nll": 0.5, "final_gap": 0.04}
        # training starts 10 s in; the first step takes a tenth of the time to the target
        result |= {"first_step_seconds": seconds / 10, "training_seconds_to_target": seconds - 10}
        result["training_seconds_to_target_3_epoch_mean"] = seconds - 5
        out.write_text(json.dumps(result))
        commands.append((path, options))

    monkeypatch.setattr(bench_ffjord.subprocess, "run", run)
    monkeypatch.setattr(bench_ffjord, "OUT_DIR", tmp_path)
    monkeypatch.setattr(bench_ffjord, "RUNS_CSV", tmp_path / "runs.csv")
    monkeypatch.setattr(bench_ffjord, "_commit", lambda: "abc1234")
    return commands


def _without(monkeypatch, *names):
    for name in names:  # find_spec reports a module set to None in sys.modules as missing
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(
    "argv", [["--with-torch"], ["--only", "torch"], ["--smoke", "--with-torch"]]
)
def test_the_torch_path_without_torch_stops_before_any_work(argv, monkeypatch, children, capsys):
    _without(monkeypatch, "torch", "torchdiffeq")
    with pytest.raises(SystemExit) as stop:
        bench_ffjord.main(argv)
    assert stop.value.code == 2
    message = capsys.readouterr().err
    assert "--with-torch" in message and "missing: torch, torchdiffeq" in message
    assert "pip install torch torchdiffeq" in message and sys.executable in message
    assert children == []


def test_a_missing_torchdiffeq_alone_is_named(monkeypatch, children, capsys):
    monkeypatch.setattr(bench_ffjord, "_missing_torch_packages", lambda: ["torchdiffeq"])
    with pytest.raises(SystemExit):
        bench_ffjord.main(["--with-torch"])
    assert "missing: torchdiffeq." in capsys.readouterr().err
    assert children == []


def test_with_torch_and_only_another_path_is_refused(monkeypatch, children, capsys):
    monkeypatch.setattr(bench_ffjord, "_missing_torch_packages", lambda: [])
    with pytest.raises(SystemExit):
        bench_ffjord.main(["--with-torch", "--only", "fast"])
    assert "--with-torch" in capsys.readouterr().err and children == []


def test_torch_epochs_must_be_positive(monkeypatch, children, capsys):
    monkeypatch.setattr(bench_ffjord, "_missing_torch_packages", lambda: [])
    with pytest.raises(SystemExit):
        bench_ffjord.main(["--with-torch", "--torch-epochs", "0"])
    assert "--torch-epochs must be a positive integer" in capsys.readouterr().err
    assert children == []


def test_the_default_run_leaves_torch_out(monkeypatch, children):
    _without(monkeypatch, "torch", "torchdiffeq")  # not needed, so not checked
    bench_ffjord.main(["--seeds", "1"])
    assert [path for path, _ in children] == ["baseline", "fast", "hutchinson"]


def test_the_tutorial_with_hutchinson_runs_only_when_named(monkeypatch, children, tmp_path):
    bench_ffjord.main(["--seeds", "2", "--only", "baseline_hutchinson,baseline", "--smoke"])
    # in the benchmark's own order, seed by seed, whatever order they were named in
    assert [path for path, _ in children] == ["baseline", "baseline_hutchinson"] * 2
    results = json.loads((tmp_path / "ffjord-baseline-baseline_hutchinson-smoke.json").read_text())
    ratio = results["speedup_to_target"]["baseline_hutchinson"]["of_medians"]
    assert ratio == pytest.approx(100.0 / 80.0)


@pytest.mark.parametrize("only", ["tutorial", "fast,exact", ","])
def test_an_unknown_path_is_named_before_any_work(only, children, capsys):
    with pytest.raises(SystemExit) as stop:
        bench_ffjord.main(["--only", only])
    assert stop.value.code == 2
    message = capsys.readouterr().err
    assert "--only" in message and "unknown path" in message and "baseline_hutchinson" in message
    assert children == []


def test_with_torch_adds_its_run_its_row_and_its_ratio(monkeypatch, children, capsys, tmp_path):
    monkeypatch.setattr(bench_ffjord, "_missing_torch_packages", lambda: [])
    bench_ffjord.main(["--seeds", "2", "--with-torch", "--torch-epochs", "7"])
    assert [path for path, _ in children] == ["baseline", "fast", "hutchinson", "torch"] * 2
    assert {options["--torch-epochs"] for _, options in children} == {"7"}
    results = json.loads((tmp_path / "ffjord.json").read_text())
    assert [run["seed"] for run in results["paths"]["torch"]["runs"]] == [0, 1]
    assert results["speedup_to_target"]["torch"]["of_medians"] == pytest.approx(2.0)
    header = capsys.readouterr().out.splitlines()
    assert any("torchdiffeq" in line for line in header)
    assert (tmp_path / "ffjord.png").exists()


def test_smoke_with_only_torch_runs_a_short_torch_run_alone(monkeypatch, children, tmp_path):
    monkeypatch.setattr(bench_ffjord, "_missing_torch_packages", lambda: [])
    bench_ffjord.main(["--smoke", "--with-torch", "--only", "torch"])
    assert children == [("torch", children[0][1])]
    assert children[0][1]["--torch-epochs"] == "2"
    assert (tmp_path / "ffjord-torch-smoke.json").exists()


def _scores(values, built, delay=0.0):
    """A scorer factory: builds once (slowly), then returns `values` one per evaluation."""

    def make_evaluate():
        time.sleep(delay)
        built.append(True)
        remaining = iter(values)
        return lambda: (time.sleep(delay), next(remaining))[1]

    return make_evaluate


class _FakeClock:
    """Stands in for `time.perf_counter`: time moves only when `advance` says so, so what the
    benchmark's clock counts is exact, whatever else the machine is doing."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_a_lazy_scorer_is_built_at_the_first_evaluation_and_kept_off_the_clock(monkeypatch):
    monkeypatch.setattr(bench_ffjord, "_reference_nll", lambda *a, **k: pytest.fail("eager"))
    clock = _FakeClock()
    monkeypatch.setattr(bench_ffjord.time, "perf_counter", clock)
    args = argparse.Namespace(target=0.55, stop_at_target=False, path="torch")
    built = []

    def make_evaluate():  # building takes 0.3 s, and so does each evaluation
        clock.advance(0.3)
        built.append(True)
        return lambda: (clock.advance(0.3), 1.0)[1]

    def train_step(batch):  # a step takes 0.01 s
        clock.advance(0.01)
        return 0.5, 7

    epochs = (lambda: iter([0, 1]) for _ in range(3))
    result = bench_ffjord._train(args, train_step, epochs, bench_ffjord._lazy(make_evaluate))
    assert built == [True] and result["epochs"] == 3 and result["nfe_per_step_late"] == 7
    seconds = [point["seconds"] for point in result["curve"]]
    # between two scores, only the epoch's two steps count: the build and the scoring do not
    np.testing.assert_allclose(np.diff(seconds), [0.02, 0.02], atol=1e-9)


@pytest.mark.parametrize(("path", "epochs"), [("torch", 4), ("baseline", 4), ("fast", 8)])
def test_the_torch_path_stops_at_the_target_like_the_tutorial(path, epochs):
    args = argparse.Namespace(target=0.55, stop_at_target=True, path=path)
    scores = _scores([0.7, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [])
    batches = (lambda: iter([0]) for _ in range(8))
    result = bench_ffjord._train(args, lambda batch: (0.5, 7), batches, scores())
    assert result["epochs"] == epochs


def test_smoke_runs_the_tutorial_with_one_flow_and_says_so(monkeypatch, children, capsys, tmp_path):
    bench_ffjord.main(["--smoke"])
    flows = {path: options.get("--baseline-flows") for path, options in children}
    assert flows["baseline"] == "1"
    assert json.loads((tmp_path / "ffjord-smoke.json").read_text())["baseline_flows"] == 1
    assert "the tutorial ran 1 FFJORD bijector(s)" in capsys.readouterr().out


def test_a_full_run_leaves_the_tutorial_its_own_flows(monkeypatch, children, tmp_path):
    bench_ffjord.main(["--seeds", "1"])
    assert all("--baseline-flows" not in options for _, options in children)
    assert json.loads((tmp_path / "ffjord.json").read_text())["baseline_flows"] == "the tutorial's"


def test_baseline_flows_must_be_positive(children, capsys):
    with pytest.raises(SystemExit):
        bench_ffjord.main(["--baseline-flows", "0"])
    assert "--baseline-flows must be a positive integer" in capsys.readouterr().err
    assert children == []


def _history(path):
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_a_full_run_appends_one_row_of_its_summary_to_the_history(children, tmp_path):
    bench_ffjord.main([])
    header, row = _history(tmp_path / "runs.csv")
    assert tuple(header) == bench_report.RUN_COLUMNS
    got = dict(zip(header, row, strict=True))
    assert got["commit"] == "abc1234" and got["seeds"] == "3"
    assert got["date_utc"] == json.loads((tmp_path / "ffjord.json").read_text())["date"][:16]
    # stand-ins: the tutorial 100 s to the target (90 s of training), the fast path 20 s (10 s)
    assert (got["tutorial_first_step_s"], got["fast_first_step_s"]) == ("10.0", "2.00")
    assert got["first_step_ratio"] == "5.0"
    assert (got["tutorial_training_s_to_target"], got["fast_training_s_to_target"]) == (
        "90.0",
        "10.0",
    )
    assert (got["training_speedup"], got["training_speedup_min"]) == ("9.0", "9.0")
    assert got["training_speedup_3_epoch_mean"] == "6.3"  # 95 / 15
    assert got["fast_final_gap"] == "0.040"


def test_a_second_full_run_adds_a_row_under_the_same_header(children, tmp_path):
    bench_ffjord.main([])
    bench_ffjord.main(["--seeds", "4"])
    rows = _history(tmp_path / "runs.csv")
    assert len(rows) == 3 and tuple(rows[0]) == bench_report.RUN_COLUMNS
    assert [row[rows[0].index("seeds")] for row in rows[1:]] == ["3", "4"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--smoke"],
        ["--seeds", "2"],
        ["--only", "baseline,fast"],
        ["--fast-config", '{"EPOCHS": 4}'],
        ["--keep-going"],
        ["--baseline-flows", "4"],
    ],
)
def test_a_smoke_short_or_partial_run_leaves_the_history_alone(argv, children, tmp_path):
    bench_ffjord.main(argv)
    assert children  # it ran
    assert not (tmp_path / "runs.csv").exists()


def test_the_history_refuses_a_file_with_other_columns(tmp_path):
    history = tmp_path / "runs.csv"
    history.write_text("date,ratio\n2026-12-04,21.6\n")
    row = dict.fromkeys(bench_report.RUN_COLUMNS, "")
    with pytest.raises(ValueError, match="columns"):
        bench_report.append_run(history, row)
    assert history.read_text() == "date,ratio\n2026-12-04,21.6\n"


def test_the_kept_history_has_the_columns_and_a_ratio_per_run():
    rows = _history(BENCHMARKS / "runs.csv")
    assert tuple(rows[0]) == bench_report.RUN_COLUMNS
    assert len(rows) > 1
    ratio = rows[0].index("training_speedup")
    for row in rows[1:]:
        assert len(row) == len(rows[0]) and row[0][:4] == "2026"
        assert float(row[ratio]) > 1


def test_the_history_records_the_checkout_commit():
    import subprocess

    head = subprocess.run(
        ["git", "-C", str(BENCHMARKS), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode:
        pytest.skip("not a git checkout")
    assert bench_ffjord._commit().removesuffix("-dirty") == head.stdout.strip()
