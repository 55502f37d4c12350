"""Tests of tools.notebooks and its kernels, tools.goldens and the `python -m tools` commands."""

import json
import os
import signal

import nbformat
import pytest
from python_child import run_python

from tools import goldens
from tools import notebooks as nbtools
from tools.__main__ import build_parser, main


def _notebook(path, parameters="EPOCHS = 10\nTRACE = 'exact'\nSEED = 0\n", golden_output="42"):
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# T"))
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    notebook.cells.append(params)
    notebook.cells.append(nbformat.v4.new_code_cell("x = 1"))
    golden = nbformat.v4.new_code_cell("print(42)")
    golden.metadata["tags"] = [goldens.GOLDEN_TAG]
    notebook.cells.append(golden)
    if golden_output is not None:
        notebook.cells[2].outputs = [nbformat.v4.new_output("stream", text="noise\n")]
        golden.outputs = [nbformat.v4.new_output("stream", text=f"{golden_output}\n")]
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("0.5", 0.5), ("[16, 16]", [16, 16]), ("hutchinson", "hutchinson"), ("true", True)],
)
def test_parameter_values_are_read_as_yaml(text, value):
    assert nbtools.parse_value(text) == value


def test_declared_parameters_are_the_parameters_cell_assignments(tmp_path):
    path = _notebook(tmp_path / "01_x.ipynb")
    assert nbtools.declared_parameters(path) == {"EPOCHS": 10, "TRACE": "exact", "SEED": 0}


def test_a_notebook_without_parameters_cell_is_reported(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    with pytest.raises(ValueError, match="parameters"):
        nbtools.declared_parameters(path)


def test_smoke_parameters_come_from_the_notebooks_json_file(tmp_path):
    path = _notebook(tmp_path / "02_x.ipynb")
    smoke = tmp_path / "smoke"
    smoke.mkdir()
    (smoke / "02_x.json").write_text(json.dumps({"EPOCHS": 1}))
    assert nbtools.load_smoke_parameters(path, smoke_dir=smoke) == {"EPOCHS": 1}
    assert nbtools.load_smoke_parameters(tmp_path / "03_y.ipynb", smoke_dir=smoke) == {}


def test_overrides_apply_to_declared_parameters_only(tmp_path):
    path = _notebook(tmp_path / "01_x.ipynb")
    chosen = nbtools.parameters_for(path, [("EPOCHS", "3"), ("OTHER", "1")])
    assert chosen == {"EPOCHS": 3}


def test_an_override_no_notebook_declares_stops_the_run(tmp_path):
    path = _notebook(tmp_path / "01_x.ipynb")
    with pytest.raises(SystemExit, match="EPOCHZ"):
        nbtools.check_overrides([path], [("EPOCHZ", "3")])


def test_goldens_are_recorded_in_their_own_file_and_injected_into_a_prepared_copy(tmp_path):
    source = _notebook(tmp_path / "01_x.ipynb", golden_output=None)
    executed = _notebook(tmp_path / "executed.ipynb", golden_output="42")
    store = tmp_path / "goldens"
    assert goldens.record(source, executed, {"EPOCHS": 1}, golden_dir=store) == 1
    assert nbformat.read(source, as_version=4).cells[3].outputs == []  # the notebook untouched
    recorded = json.loads((store / "01_x.json").read_text())
    assert recorded["parameters"] == {"EPOCHS": 1}
    assert recorded["cells"][0]["outputs"][0]["text"] == "42\n"

    prepared = _notebook(tmp_path / "prepared" / "01_x.ipynb", golden_output=None)
    assert goldens.inject(prepared, {"EPOCHS": 1}, golden_dir=store) == 1
    notebook = nbformat.read(prepared, as_version=4)
    assert notebook.cells[3].outputs[0]["text"] == "42\n"
    assert notebook.cells[3].execution_count == 1
    assert notebook.cells[2].outputs == []


def test_goldens_recorded_with_other_parameters_are_refused(tmp_path):
    executed = _notebook(tmp_path / "executed.ipynb", golden_output="42")
    store = tmp_path / "goldens"
    goldens.record(_notebook(tmp_path / "01_x.ipynb"), executed, {"EPOCHS": 1}, golden_dir=store)
    prepared = _notebook(tmp_path / "prepared" / "01_x.ipynb", golden_output=None)
    with pytest.raises(ValueError, match="re-record"):
        goldens.inject(prepared, {"EPOCHS": 2}, golden_dir=store)


def _run_elsewhere(path, outputs, parameters):
    """`path` as papermill leaves it: the golden cell's `outputs`, the parameters it ran with."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[3].outputs = [nbformat.from_dict(o) for o in outputs]
    notebook.metadata["papermill"] = {"parameters": parameters}
    nbformat.write(notebook, path)
    return path


def _stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_a_run_executed_elsewhere_is_compared_with_the_goldens_as_nbval_compares(tmp_path):
    def figure(pixels):
        return nbformat.v4.new_output("display_data", data={"image/png": pixels, "text/plain": "F"})

    store = tmp_path / "goldens"
    recorded = _notebook(tmp_path / "recorded" / "01_x.ipynb")
    _run_elsewhere(recorded, [_stream("42\n43\n"), figure("AAAA")], {"EPOCHS": 1})
    goldens.record(_notebook(tmp_path / "01_x.ipynb"), recorded, {"EPOCHS": 1}, golden_dir=store)
    path = _notebook(tmp_path / "colab" / "01_x.ipynb", golden_output=None)

    def check(outputs, parameters=None):
        return goldens.check(_run_elsewhere(path, outputs, parameters or {"EPOCHS": 1}), store)

    # the stream split in two and other pixels (nbval skips them): the same
    assert check([_stream("42\n"), _stream("43\n"), figure("BBBB")]) == []
    # other text, an error, another parameter set, a missing cell: each named
    (problem,) = check([_stream("42\n44\n"), figure("AAAA")])
    assert "golden cell 1 ('print(42)') printed" in problem and "44" in problem
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="no", traceback=[])
    assert check([error])[0].endswith("raised an error")
    (problem,) = check([_stream("42\n43\n"), figure("AAAA")], {"EPOCHS": 2})
    assert "ran with {'EPOCHS': 2}, the goldens were recorded with {'EPOCHS': 1}" in problem
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[3].source = "print(41)"
    notebook.metadata["papermill"]["parameters"] = {"EPOCHS": 1}
    nbformat.write(notebook, path)
    assert goldens.check(path, store)[0].endswith("is not in the executed notebook")


def test_goldens_check_compares_the_folders_runs_and_fails_naming_a_missing_one(tmp_path, capsys):
    folder = tmp_path / "none"
    folder.mkdir()
    assert main(["goldens", "--check", str(folder), "--only", "01"]) == 1
    assert "01_distribution_zoo.ipynb: not under" in capsys.readouterr().err


def test_a_golden_cell_whose_source_changed_has_no_golden(tmp_path):
    executed = _notebook(tmp_path / "executed.ipynb", golden_output="42")
    store = tmp_path / "goldens"
    goldens.record(_notebook(tmp_path / "01_x.ipynb"), executed, {}, golden_dir=store)
    prepared = _notebook(tmp_path / "prepared" / "01_x.ipynb", golden_output=None)
    notebook = nbformat.read(prepared, as_version=4)
    notebook.cells[3].source = "print(43)"
    nbformat.write(notebook, prepared)
    with pytest.raises(ValueError, match="no recorded output"):
        goldens.inject(prepared, {}, golden_dir=store)
    with pytest.raises(ValueError, match="missing"):
        goldens.load(tmp_path / "02_none.ipynb", golden_dir=store)


def test_record_refuses_an_error_output(tmp_path):
    source = _notebook(tmp_path / "01_x.ipynb", golden_output=None)
    executed = _notebook(tmp_path / "executed.ipynb")
    notebook = nbformat.read(executed, as_version=4)
    notebook.cells[3].outputs = [
        nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[])
    ]
    nbformat.write(notebook, executed)
    with pytest.raises(ValueError, match="error"):
        goldens.record(source, executed, {}, golden_dir=tmp_path / "goldens")


def test_strip_removes_every_output_and_the_keep_output_mark(tmp_path):
    path = _notebook(tmp_path / "01_x.ipynb", golden_output="42")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[3].metadata["keep_output"] = True
    nbformat.write(notebook, path)
    goldens.strip(path)
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and "keep_output" not in cell.metadata


def test_only_selects_notebooks_by_name(tmp_path):
    _notebook(tmp_path / "01_a.ipynb")
    _notebook(tmp_path / "02_b.ipynb")
    assert [p.name for p in nbtools.notebooks("02", directory=tmp_path)] == ["02_b.ipynb"]
    with pytest.raises(SystemExit, match="matches no notebook"):
        nbtools.notebooks("99", directory=tmp_path)


def test_one_parser_reads_literals_and_keeps_other_values_as_their_source():
    source = "EPOCHS = 20  # passes\nSIZES = [8, 8]\nSTEPS = 2 * 10\nx = 1\n"
    assert nbtools.read_parameters(source) == {
        "EPOCHS": 20,
        "SIZES": [8, 8],
        "STEPS": "2 * 10",
        "x": 1,
    }
    with pytest.raises(ValueError, match="not valid Python"):
        nbtools.read_parameters("EPOCHS = (")
    as_written = nbtools.read_parameters(source, as_source=True)
    assert as_written == {"EPOCHS": "20", "SIZES": "[8, 8]", "STEPS": "2 * 10", "x": "1"}


def test_declared_parameters_are_read_without_running_the_cell(tmp_path):
    path = _notebook(tmp_path / "01_x.ipynb", parameters="EPOCHS = 10\nSTEPS = open('x')\n")
    assert nbtools.declared_parameters(path) == {"EPOCHS": 10, "STEPS": "open('x')"}


def test_the_suite_notebooks_declare_their_parameters_through_the_same_parser():
    for path in nbtools.notebooks():
        assert "SEED" in nbtools.declared_parameters(path)


@pytest.mark.parametrize("command", ["run", "prepare", "goldens", "gallery", "list"])
def test_every_subcommand_takes_the_shared_options(command, tmp_path):
    args = build_parser().parse_args(
        [command, "--only", "02", "-p", "EPOCHS", "3", "--out", str(tmp_path)]
    )
    assert (args.command, args.only, args.parameter) == (command, "02", [["EPOCHS", "3"]])
    assert args.out == tmp_path


def test_a_missing_or_unknown_subcommand_is_a_usage_error(capsys):
    for argv in ([], ["build"]):
        with pytest.raises(SystemExit) as stop:
            build_parser().parse_args(argv)
        assert stop.value.code == 2
    assert "command" in capsys.readouterr().err


def test_list_prints_each_notebooks_parameters(capsys):
    assert main(["list", "--only", "02"]) == 0
    name, parameters = capsys.readouterr().out.strip().split(" ", 1)
    assert name == "02_ffjord_moons.ipynb"
    assert json.loads(parameters)["TRACE"] == "exact"


def test_a_misspelt_override_stops_before_any_notebook_runs(tmp_path):
    with pytest.raises(SystemExit, match="EPOCHZ"):
        main(["run", "--only", "02", "-p", "EPOCHZ", "1", "--out", str(tmp_path)])
    assert not (tmp_path / "notebooks").exists()


def test_the_gallery_refuses_runs_with_passed_in_parameters(tmp_path):
    executed = tmp_path / "notebooks" / "02_ffjord_moons.ipynb"
    executed.parent.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {"parameters": {"EPOCHS": 2}}
    nbformat.write(notebook, executed)
    with pytest.raises(SystemExit, match="default parameters only.*EPOCHS"):
        main(["gallery", "--only", "02", "--out", str(tmp_path)])


def test_the_gallery_needs_a_run_first(tmp_path):
    with pytest.raises(SystemExit, match="run `tools run`"):
        main(["gallery", "--only", "02", "--out", str(tmp_path)])


@pytest.mark.slow
def test_run_exits_non_zero_when_a_notebooks_claim_fails_and_the_results_say_so(tmp_path):
    import argparse

    from tools.__main__ import _run
    from tools.site_results import read_results, results_page

    source = tmp_path / "01_claim.ipynb"
    _notebook(source, parameters="EPOCHS = 10\nSEED = 0\n", golden_output=None)
    notebook = nbformat.read(source, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell('assert EPOCHS > 20, "claim does not hold"'))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, source)
    args = argparse.Namespace(smoke=False, out=tmp_path / "build")
    assert _run(args, [source], []) == 1
    ran = read_results(tmp_path / "build" / "notebooks" / "01_claim.ipynb")
    assert ran["errors"] == ["AssertionError: claim does not hold"]
    assert "**Failed**: AssertionError: claim does not hold" in results_page([ran])
    assert _run(args, [source], [("EPOCHS", "30")]) == 0


def test_python_dash_m_tools_runs_from_the_checkout():
    output = run_python("-m", "tools", "list", "--only", "01")
    assert output.startswith("01_distribution_zoo.ipynb {")


def _code_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SEED = 0")
    params.metadata["tags"] = ["parameters"]
    notebook.cells = [params] + [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, path)
    return path


def _text_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            found.append(output.get("text") or f"{output.get('ename')}: {output.get('evalue')}")
    return "".join(found)


def test_a_prepared_notebook_records_no_folder_of_this_machine(tmp_path):
    source = _code_notebook(tmp_path / "01_t.ipynb", "print(SEED)")
    prepared = tmp_path / "out" / "01_t.ipynb"
    nbtools.execute(source, prepared, {"SEED": 2}, prepare_only=True)
    recorded = nbformat.read(prepared, as_version=4).metadata["papermill"]
    assert recorded["input_path"] == recorded["output_path"] == "01_t.ipynb"
    assert str(tmp_path) not in prepared.read_text(encoding="utf-8")


def test_portable_paths_keeps_the_path_inside_the_repository(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {
        "input_path": str(tmp_path / "repo" / "notebooks" / "02_x.ipynb"),
        "output_path": "build/notebooks/02_x.ipynb",  # already relative: as it is
    }
    path = tmp_path / "02_x.ipynb"
    nbformat.write(notebook, path)
    nbtools.portable_paths(path, root=tmp_path / "repo")
    recorded = nbformat.read(path, as_version=4).metadata["papermill"]
    assert recorded["input_path"] == "notebooks/02_x.ipynb"
    assert recorded["output_path"] == "build/notebooks/02_x.ipynb"


def test_portable_paths_leaves_a_cut_off_file_alone(tmp_path):
    path = tmp_path / "01_cut.ipynb"
    path.write_text('{"cells": [', encoding="utf-8")
    nbtools.portable_paths(path)
    assert path.read_text(encoding="utf-8") == '{"cells": ['


@pytest.mark.slow
def test_the_kernel_runs_over_private_unix_sockets_without_a_transport_warning(tmp_path, capfd):
    source = _code_notebook(
        tmp_path / "01_transport.ipynb",
        "from ipykernel.kernelapp import IPKernelApp\n"
        "app = IPKernelApp.instance()\n"
        "print(app.transport, app.ip)",
    )
    executed = tmp_path / "out" / "01_transport.ipynb"
    nbtools.execute(source, executed, {})
    captured = capfd.readouterr()
    transport, address = _text_outputs(executed).split()
    assert transport == "ipc"
    assert len(address) + len("-100") < 100  # a Unix socket path has at most ~107 characters
    assert not os.path.exists(os.path.dirname(address))  # the sockets' directory is gone
    assert "without encryption" not in captured.out + captured.err


TRAIN_AND_STOP_THE_RUNNER = """
import os, signal, time
import numpy as np, tensorflow as tf
import support

x = np.linspace(-1, 1, 64, dtype="float32")
w, calls = tf.Variable(0.0), tf.Variable(0)
dataset = tf.data.Dataset.from_tensor_slices((x, 2 * x)).batch(8)

def stop_the_runner_in_step_3(step):
    if int(step) == 3:
        os.kill(os.getppid(), signal.SIGTERM)  # the runner passes it on to this kernel
        time.sleep(2)
    return step

def loss(x, y):
    tf.py_function(stop_the_runner_in_step_3, [calls.assign_add(1)], tf.int32)
    return tf.reduce_mean((w * x - y) ** 2)

support.fit(loss, [w], dataset, epochs=200, progress=False, checkpoint_dir=CHECKPOINTS)
"""


@pytest.mark.slow
def test_a_sigterm_to_the_runner_reaches_the_kernel_which_saves_and_the_runner_exits_143(
    tmp_path,
):
    source = _code_notebook(tmp_path / "01_stop.ipynb", TRAIN_AND_STOP_THE_RUNNER)
    checkpoints = tmp_path / "checkpoints"
    executed = tmp_path / "out" / "01_stop.ipynb"
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        nbtools.execute(source, executed, {"CHECKPOINTS": str(checkpoints)})
    assert stopped.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
    outputs = _text_outputs(executed)
    assert "Terminated: stopped by SIGTERM: saved" in outputs, outputs[-2000:]
    assert (checkpoints / "ckpt-1.index").exists()
