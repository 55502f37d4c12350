import json

import nbformat
import pytest

from support import nbtools


def _notebook(path, parameters="EPOCHS = 10\nTRACE = 'exact'\nSEED = 0\n", golden_output="42"):
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# T"))
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    notebook.cells.append(params)
    notebook.cells.append(nbformat.v4.new_code_cell("x = 1"))
    golden = nbformat.v4.new_code_cell(f"{nbtools.GOLDEN_MARK}\nprint(42)")
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
        nbtools._check_overrides([path], [("EPOCHZ", "3")])


def test_refresh_goldens_keeps_only_golden_outputs_with_counts(tmp_path):
    source = _notebook(tmp_path / "01_x.ipynb", golden_output=None)
    executed = _notebook(tmp_path / "executed.ipynb", golden_output="42")
    assert nbtools.refresh_goldens(source, executed) == 1
    notebook = nbformat.read(source, as_version=4)
    golden = notebook.cells[3]
    assert golden.outputs[0]["text"] == "42\n"
    assert golden.metadata["keep_output"] is True
    assert golden.execution_count == 1
    assert notebook.cells[2].outputs == []


def test_refresh_goldens_refuses_an_error_output(tmp_path):
    source = _notebook(tmp_path / "01_x.ipynb", golden_output=None)
    executed = _notebook(tmp_path / "executed.ipynb")
    notebook = nbformat.read(executed, as_version=4)
    notebook.cells[3].outputs = [
        nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[])
    ]
    nbformat.write(notebook, executed)
    with pytest.raises(ValueError, match="error"):
        nbtools.refresh_goldens(source, executed)


def test_only_selects_notebooks_by_name(tmp_path):
    _notebook(tmp_path / "01_a.ipynb")
    _notebook(tmp_path / "02_b.ipynb")
    assert [p.name for p in nbtools.notebooks("02", directory=tmp_path)] == ["02_b.ipynb"]
    with pytest.raises(SystemExit, match="matches no notebook"):
        nbtools.notebooks("99", directory=tmp_path)
