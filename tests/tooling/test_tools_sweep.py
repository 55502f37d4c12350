"""Tests of the sweeps (`python -m tools sweep`): the plan and its checks, the tables, the
site page, and real runs: on a Dask LocalCluster of two worker processes (one of them killed
mid-run), killed and resumed here, one sweep per folder, timed out, with a kernel that fails
to start once. tests/tooling/test_tools_sweep_cluster.py runs a sweep on a cluster started from
Dask's command line, as docs/sweeps.md says.

The runs use a tiny notebook written into tmp_path (a parameters cell, a cell that fails for
one value or waits on a file, a headline shown as `support.headline` shows it), so a run
costs only a kernel's start-up.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from tools import sweep
from tools.notebooks import ROOT
from tools.site_results import HEADLINE_MIME
from tools.sweep import page as sweep_page
from tools.sweep import results as sweep_results
from tools.sweep.plan import SweepError, find_notebook, make_plan, parse_seeds
from tools.sweep.run import by_value, execute_run, run_on_worker

BODY = """\
import os, time
from IPython.display import display
if PID_FILE and X >= WAIT_FROM:  # the kernel that is about to wait says who it is
    with open(PID_FILE, "w") as handle:
        handle.write(str(os.getpid()))
while X >= WAIT_FROM and os.path.exists(HOLD):
    time.sleep(0.2)
if X == FAIL_AT:
    raise RuntimeError(f"X is {X}")
value = 10 * X + SEED
record = {"name": "score", "value": value, "stderr": 0.5, "reference": 10.0,
          "reference_name": "ten", "unit": ""}
display({%r: record, "text/plain": str(value)}, raw=True)
"""


def tiny_notebook(path, check=None):
    """A notebook with X, FAIL_AT, WAIT_FROM, HOLD, PID_FILE and SEED; with `check`, a cell
    calling support.check_parameters with those rules (and support.setup after it)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["kernelspec"]["language"] = "python"
    cells = [nbformat.v4.new_markdown_cell("# Tiny")]
    if check:
        cells.append(nbformat.v4.new_code_cell("%matplotlib inline\nimport support"))
    parameters = nbformat.v4.new_code_cell(
        'X = 1\nFAIL_AT = -1\nWAIT_FROM = 99\nHOLD = ""\nPID_FILE = ""\nSEED = 0'
    )
    parameters.metadata["tags"] = ["parameters"]
    cells.append(parameters)
    if check:
        cells.append(
            nbformat.v4.new_code_cell(
                f"support.check_parameters(globals(), {check})\nsupport.setup(SEED);"
            )
        )
    cells.append(nbformat.v4.new_code_cell(BODY % HEADLINE_MIME))
    notebook.cells = cells
    nbformat.write(notebook, path)
    return path


# --- the plan: nothing runs --------------------------------------------------------------


@pytest.mark.parametrize(("text", "seeds"), [("0:3", [0, 1, 2]), ("4,1", [4, 1]), ("7", [7])])
def test_seeds_read_as_a_range_or_a_list(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["3:3", "a:b", "1,1", "-1"])
def test_bad_or_empty_seeds_stop_the_sweep(text):
    with pytest.raises(SweepError, match="--seeds"):
        parse_seeds(text)


def test_the_plan_is_the_product_of_the_axes_times_the_seeds(tmp_path):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    grid = [["X", "1", "2", "3"], ["HOLD", "a", "b"]]
    plan = make_plan(path, grid, [0, 5], [("FAIL_AT", "2")], out=tmp_path)
    assert len(plan.runs) == 12
    assert {run.name for run in plan.runs} >= {"X=1,HOLD=a,seed=0", "X=3,HOLD=b,seed=5"}
    run = next(r for r in plan.runs if r.name == "X=2,HOLD=b,seed=5")
    assert run.parameters == {"FAIL_AT": 2, "X": 2, "HOLD": "b", "SEED": 5}
    assert plan.fixed == {"FAIL_AT": 2}
    assert make_plan(path, [["X", "1"]], None, [("X", "5")], out=tmp_path).fixed == {}
    assert len({r.key for r in plan.runs}) == 12
    again = make_plan(path, grid, [0, 5], [("FAIL_AT", "2")], out=tmp_path)
    assert [r.key for r in again.runs] == [r.key for r in plan.runs]
    with open(path, "a") as handle:  # the notebook changed: every key changes
        handle.write("\n")
    changed = make_plan(path, grid, [0, 5], [("FAIL_AT", "2")], out=tmp_path)
    assert not {r.key for r in changed.runs} & {r.key for r in plan.runs}


@pytest.mark.parametrize(
    ("grid", "seeds", "fixed", "message"),
    [
        ([["Y", "1"]], None, [], "has no parameter Y"),
        ([], None, [("Z", "1")], "has no parameter Z"),
        ([["X"]], None, [], "no values: the grid would be empty"),
        ([["X", "1"], ["X", "2"]], None, [], "given twice"),
        ([["X", "1", "1"]], None, [], "lists a value twice"),
        ([["SEED", "1", "2"]], None, [], "--seeds"),
        ([["X", *map(str, range(10))]], [0, 1, 2, 3, 4, 5, 6], [], "70 runs, more than 64"),
    ],
)
def test_a_bad_grid_stops_before_anything_runs(tmp_path, grid, seeds, fixed, message):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(SweepError, match=message):
        make_plan(path, grid, seeds, fixed, out=tmp_path)
    assert not any(tmp_path.glob("*/runs"))


def test_a_large_grid_runs_with_yes(tmp_path):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    plan = make_plan(path, [["X", *map(str, range(10))]], [0, 1, 2, 3, 4, 5, 6], yes=True)
    assert len(plan.runs) == 70


def test_the_notebooks_own_check_cell_rejects_values_without_running_it(tmp_path):
    rules = "X=support.integer(min=1, max=5), FAIL_AT=support.integer(), "
    rules += "WAIT_FROM=support.integer(), HOLD=support.choice('', 'h'), "
    rules += "PID_FILE=support.choice(''), SEED=support.integer(min=0)"
    path = tiny_notebook(tmp_path / "tiny.ipynb", check=rules)
    plan = make_plan(path, [["X", "1", "5"]], [0, 1], out=tmp_path)
    assert len(plan.runs) == 4
    with pytest.raises(SweepError) as error:
        make_plan(path, [["X", "0", "3", "6"], ["HOLD", "h", "g"]], [0], out=tmp_path)
    text = str(error.value)
    rejected = [line.split(":")[0].strip() for line in text.splitlines()[1:]]
    assert sorted(rejected) == sorted(
        ["X=0,HOLD=h,seed=0", "X=0,HOLD=g,seed=0", "X=3,HOLD=g,seed=0", "X=6,HOLD=h,seed=0"]
        + ["X=6,HOLD=g,seed=0"]
    )
    assert "parameter X must be an integer >= 1 and <= 5, got 0" in text


def test_a_real_notebooks_check_cell_names_the_rejected_value():
    notebook = find_notebook("04")
    with pytest.raises(SweepError, match=r"NUM_SAMPLES=10,seed=0: ParameterError") as error:
        make_plan(notebook, [["NUM_SAMPLES", "10", "1000"]], [0], smoke=True)
    assert "NUM_SAMPLES=1000" not in str(error.value)


def test_the_command_line_says_nothing_was_started(tmp_path, capsys):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    assert sweep.main([str(path), "-g", "NOPE", "1", "--out", str(tmp_path)]) == 2
    assert "nothing was started" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [path]


# --- the tables and the page ------------------------------------------------------------


def _record(x, seed, status="ok", value=None, stderr=0.5):
    headlines = [] if value is None else [{"name": "score", "value": value, "stderr": stderr}]
    for h in headlines:
        h["reference"] = 10.0
    return {
        "run": f"X={x},seed={seed}",
        "point": {"X": x},
        "seed": seed,
        "status": status,
        "headlines": headlines,
    }


def test_the_aggregate_keeps_the_spread_across_seeds_apart_from_the_runs_stderr():
    records = [
        _record(1, 0, value=1.0, stderr=0.1),
        _record(1, 1, value=3.0, stderr=0.3),
        _record(1, 2, value=8.0, stderr=0.2),
        _record(2, 0, value=5.0),
        _record(2, 1, status="failed"),
    ]
    rows = sweep_results.aggregate_rows(["X"], records)
    assert [(r["X"], r["runs"], r["ok"]) for r in rows] == [(1, 3, 3), (2, 2, 1)]
    # mean 4, sample variance ((-3)^2 + 1 + 4^2) / 2 = 13, s.e. sqrt(13 / 3)
    assert rows[0]["score mean"] == pytest.approx(4.0)
    assert rows[0]["score se"] == pytest.approx((13 / 3) ** 0.5)
    assert rows[0]["score mean stderr"] == pytest.approx(0.2)
    assert rows[1]["score mean"] == 5.0 and rows[1]["score se"] == "" and rows[1]["score n"] == 1


def test_a_page_shows_the_points_the_runs_and_the_plots(tmp_path):
    records = [_record(1, 0, value=1.0), _record(1, 1, value=3.0), _record(2, 0, "failed")]
    records[2] |= {"error_name": "RuntimeError", "error_value": "X is 2"}
    sweep_results.write_tables(tmp_path, ["X"], records)
    plots = sweep_results.plot_headlines(tmp_path, ["X"], records)
    assert [p.name for p in plots] == ["score.png"]
    assert plots[0].read_bytes().startswith(b"\x89PNG")
    info = {"notebook": "tiny.ipynb", "grid": {"X": [1, 2]}, "seeds": [0, 1], "fixed": {}}
    info |= {"swept": ["X"], "runs": [r["run"] for r in records]}
    (tmp_path / "sweep.json").write_text(json.dumps(info))
    page = sweep_page.sweep_page(sweep_page.read_sweep(tmp_path), "figures")
    assert "3 runs (1 failed, 2 ok)" in page.replace("\\", "")
    assert "RuntimeError: X is 2" in page.replace("\\", "")
    assert "* - score\n  - 1\n  - 2 of 2\n  - 2\n  - 1\n  - 0\\.5\n  - 10\n" in page  # s.e. 1
    assert "![score](figures/score.png)" in page


# --- real runs --------------------------------------------------------------------------


def _rows(folder):
    import csv

    with open(folder / "results.csv", newline="") as handle:
        return {row["run"]: row for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_a_sweep_on_a_local_cluster_of_two_processes_skips_what_succeeded(tmp_path, capsys):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    args = [str(path), "-g", "X", "1", "2", "-p", "FAIL_AT", "2", "--seeds", "3"]
    args += ["--workers", "2", "--out", str(tmp_path / "out"), "--name", "s"]
    assert sweep.main(args) == 1  # one run failed
    folder = tmp_path / "out" / "s"
    rows = _rows(folder)
    assert rows["X=1,seed=3"]["status"] == "ok" and rows["X=1,seed=3"]["score"] == "13"
    assert rows["X=1,seed=3"]["score stderr"] == "0.5"
    assert rows["X=1,seed=3"]["score reference"] == "10.0"
    failed = rows["X=2,seed=3"]
    assert (failed["status"], failed["error_name"]) == ("failed", "RuntimeError")
    assert failed["error_value"] == "X is 2" and failed["score"] == ""
    for row in rows.values():
        assert row["host"] and row["tensorflow"] and len(row["git_commit"]) >= 40
        assert float(row["seconds"]) > 0
    assert (folder / "runs" / "X=1,seed=3" / "tiny.ipynb").is_file()
    assert "2 to run on Dask" in capsys.readouterr().out
    ok_record = (folder / "runs" / "X=1,seed=3" / "result.json").read_text()
    failed_record = (folder / "runs" / "X=2,seed=3" / "result.json").read_text()
    assert sweep.main(args) == 1
    assert "1 finished already, 1 to run" in capsys.readouterr().out
    assert (folder / "runs" / "X=1,seed=3" / "result.json").read_text() == ok_record
    assert (folder / "runs" / "X=2,seed=3" / "result.json").read_text() != failed_record


def _wait_for(predicate, seconds=300):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.5)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_killed_sweep_keeps_what_ended_and_resumes(tmp_path):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    hold, pid_file, folder = tmp_path / "hold", tmp_path / "pid", tmp_path / "out" / "s"
    hold.write_text("")
    command = [sys.executable, "-m", "tools", "sweep", str(path), "-g", "X", "1", "2", "3"]
    command += ["-p", "WAIT_FROM", "2", "-p", "HOLD", str(hold), "-p", "PID_FILE", str(pid_file)]
    command += ["--jobs", "1", "--out", str(tmp_path / "out"), "--name", "s"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_for(lambda: (folder / "runs" / "X=1,seed=0" / "result.json").exists())
        _wait_for(lambda: pid_file.exists() and pid_file.read_text())
        kernel = int(pid_file.read_text())  # run X=2's kernel, waiting on the hold file
        process.send_signal(signal.SIGTERM)
        assert process.wait(120) == 143
    finally:
        if process.poll() is None:
            process.kill()
    _wait_for(lambda: not _alive(kernel), 30)
    rows = _rows(folder)
    assert rows["X=1,seed=0"]["status"] == "ok"
    assert rows["X=2,seed=0"]["status"] == "terminated"
    assert "X=3,seed=0" not in rows and not (folder / "runs" / "X=3,seed=0").exists()
    hold.unlink()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 finished already, 2 to run" in done.stdout
    rows = _rows(folder)
    assert [rows[f"X={x},seed=0"]["status"] for x in (1, 2, 3)] == ["ok"] * 3
    assert [rows[f"X={x},seed=0"]["score"] for x in (1, 2, 3)] == ["10", "20", "30"]


def _sweep_command(path, tmp_path, *options):
    """`python -m tools sweep` of the tiny notebook into tmp_path/out/s, every run holding."""
    hold, pid_file = tmp_path / "hold", tmp_path / "pid"
    command = [sys.executable, "-m", "tools", "sweep", str(path), *options]
    command += ["-p", "WAIT_FROM", "1", "-p", "HOLD", str(hold), "-p", "PID_FILE", str(pid_file)]
    return command + ["--out", str(tmp_path / "out"), "--name", "s"]


@pytest.mark.slow
def test_a_second_sweep_on_a_folder_in_use_stops_naming_the_first_and_a_killed_one_blocks_none(
    tmp_path,
):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    hold, pid_file, folder = tmp_path / "hold", tmp_path / "pid", tmp_path / "out" / "s"
    hold.write_text("")
    command = _sweep_command(path, tmp_path, "-g", "X", "1", "2", "--jobs", "1")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    first = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_for(lambda: pid_file.exists() and pid_file.read_text())
        kernel = int(pid_file.read_text())  # the first sweep's run X=1, holding
        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert first.poll() is None
        first.send_signal(signal.SIGKILL)  # its lock is left behind, stale
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2
    owner = f"pid {first.pid} on host {socket.gethostname()} since 20"
    assert f"sweep folder {str(folder)!r} is in use by {owner}" in second.stderr
    assert "nothing was started" in second.stderr and "to run" not in second.stdout
    assert list(folder.glob("runs/*/result.json")) == []  # nothing ran twice, nothing ended
    _wait_for(lambda: not _alive(kernel), 30)
    hold.unlink()
    third = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert third.returncode == 0, third.stderr
    assert "0 finished already, 2 to run" in third.stdout
    assert [row["status"] for row in _rows(folder).values()] == ["ok", "ok"]


def _run_of(kernel):
    """The parameters of the run whose kernel has pid `kernel` (its papermill child's p.json)."""
    driver = psutil.Process(kernel).parent()
    with open(os.path.join(driver.cwd(), "p.json")) as handle:
        return json.load(handle), driver


@pytest.mark.slow
def test_a_worker_killed_mid_run_fails_that_run_alone_in_words_and_a_rerun_completes_it(
    tmp_path,
):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    hold, pid_file, folder = tmp_path / "hold", tmp_path / "pid", tmp_path / "out" / "s"
    hold.write_text("")
    command = _sweep_command(path, tmp_path, "-g", "X", "1", "2", "3", "4", "--workers", "2")
    # Dask gives up on every task of a dead worker at once (KilledWorker), the runs that
    # only waited there too: the sweep submits those again.
    env = dict(os.environ, PYTHONPATH=str(ROOT), DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")
    sweep = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: pid_file.exists() and pid_file.read_text())
        parameters, driver = _run_of(int(pid_file.read_text()))
        worker = driver.parent()
        assert worker.pid != sweep.pid  # a worker process of the LocalCluster
        killed = f"X={parameters['X']},seed=0"
        worker.send_signal(signal.SIGKILL)
        _wait_for(lambda: (folder / "runs" / killed / "result.json").exists())
        hold.unlink()
        out, _ = sweep.communicate(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 1
    rows = _rows(folder)
    assert [name for name, row in rows.items() if row["status"] != "ok"] == [killed]
    assert rows[killed]["error_name"] == "WorkerDied"
    assert "the Dask worker running this run" in rows[killed]["error_value"]
    assert "run the same sweep command again to rerun it" in rows[killed]["error_value"]
    assert "sweep-run-" not in rows[killed]["error_value"]  # no Dask task key
    assert out.splitlines()[-1].startswith(
        "sweep: to rerun the 1 that did not succeed (the 3 that did are kept), run the same "
        "command again: python -m tools sweep "
    )
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "3 finished already, 1 to run" in again.stdout
    assert [row["status"] for row in _rows(folder).values()] == ["ok"] * 4


UNPICKLE = """
import pickle, sys
task = pickle.loads(sys.stdin.buffer.read())
print(task.__name__, "tools" in sys.modules)
"""


def test_the_dask_task_unpickles_where_tools_cannot_be_imported(tmp_path):
    import pickle

    data = pickle.dumps(by_value(run_on_worker))  # plain pickle, as Dask's scheduler reads it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, "-c", "import tools"]
    assert subprocess.run(command, cwd=tmp_path, env=env, capture_output=True).returncode == 1
    done = subprocess.run(
        [sys.executable, "-c", UNPICKLE], cwd=tmp_path, env=env, input=data, capture_output=True
    )
    assert done.stdout.decode().split() == ["run_on_worker", "False"], done.stderr.decode()


@pytest.mark.slow
def test_a_timeout_stops_the_run_and_its_kernel(tmp_path):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    hold, pid_file = tmp_path / "hold", tmp_path / "pid"
    hold.write_text("")
    parameters = {"X": 3, "WAIT_FROM": 2, "HOLD": str(hold), "PID_FILE": str(pid_file)}
    # Long enough for the tiny kernel (no TensorFlow) to start and reach the hold loop on a
    # busy machine, and no longer: the test waits the whole timeout.
    outcome = execute_run(path.read_bytes(), parameters, timeout=30)
    assert outcome["status"] == "timed out" and outcome["error_name"] == "Timeout"
    kernel = int(pid_file.read_text())
    _wait_for(lambda: not _alive(kernel), 30)
    assert outcome["notebook"] is not None  # what ran before the timeout is kept


@pytest.mark.slow
def test_a_kernel_that_fails_to_start_is_retried_once(tmp_path, monkeypatch):
    marker, spec = tmp_path / "failed-once", tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (tmp_path / "flaky.py").write_text(
        "import os, sys\n"
        f"if not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    sys.exit(1)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', *sys.argv[1:]])\n"
    )
    argv = [sys.executable, str(tmp_path / "flaky.py"), "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "flaky", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    outcome = execute_run(path.read_bytes(), {"X": 4}, timeout=300)
    assert marker.exists()
    assert (outcome["status"], outcome["attempts"], outcome["kernel_retried"]) == ("ok", 2, True)


def test_the_site_stages_a_sweep_page_with_its_plots(tmp_path):
    from tools import site

    folder = tmp_path / "sweeps" / "tiny-X"
    records = [_record(1, 0, value=1.0), _record(2, 0, value=3.0)]
    sweep_results.write_tables(folder, ["X"], records)
    sweep_results.plot_headlines(folder, ["X"], records)
    info = {"notebook": "tiny.ipynb", "grid": {"X": [1, 2]}, "seeds": [0], "fixed": {}}
    info |= {"swept": ["X"], "runs": [r["run"] for r in records]}
    (folder / "sweep.json").write_text(json.dumps(info))
    src = tmp_path / "src"
    assert site.stage(None, src, sweeps=[folder]) == []
    index = (src / "index.md").read_text()
    assert ":caption: Sweeps" in index and "sweeps/tiny-X" in index
    assert ":caption: Notebooks" not in index and not (src / "results.md").exists()
    page = (src / "sweeps" / "tiny-X.md").read_text()
    assert "![score](tiny-X/score.png)" in page
    assert (src / "sweeps" / "tiny-X" / "score.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(FileNotFoundError, match="python -m tools sweep"):
        site.stage(None, tmp_path / "src2", sweeps=[tmp_path / "nothing"])
