"""The package's declared stack: pyproject.toml and environment.yml must agree."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = PROJECT["name"]


def _pyproject_requirements() -> dict[str, str]:
    found = {}
    groups = [PROJECT["dependencies"], *PROJECT["optional-dependencies"].values()]
    for group in groups:
        for line in group:
            requirement = Requirement(line)
            if requirement.name != SELF:  # an extra that pulls in another extra
                found[requirement.name.lower()] = str(requirement.specifier)
    return found


def _conda_pip_section() -> list[str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    for entry in environment["dependencies"]:
        if isinstance(entry, dict) and "pip" in entry:
            return entry["pip"]
    raise AssertionError("environment.yml has no pip section")


def test_environment_yml_pins_exactly_what_pyproject_pins():
    conda = {}
    for line in _conda_pip_section():
        if line.startswith("-e"):
            continue
        requirement = Requirement(line)
        conda[requirement.name.lower()] = str(requirement.specifier)
    assert conda == _pyproject_requirements()


def test_environment_yml_installs_the_package_itself_with_every_extra():
    editable = [line for line in _conda_pip_section() if line.startswith("-e")]
    extras = set(PROJECT["optional-dependencies"])
    order = ["notebooks", "test", "browser", "lint", "site"]
    assert editable == [f"-e .[{','.join(sorted(extras, key=order.index))}]"]


def test_environment_yml_uses_the_same_python():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in environment["dependencies"]
    assert PROJECT["requires-python"].startswith(">=3.11")


def test_the_verified_stack_is_pinned():
    pins = _pyproject_requirements()
    assert pins["tensorflow"] == "==2.21.0"
    assert pins["tensorflow-probability"] == "==0.25.0"
    assert pins["tf-keras"] == "==2.21.0"
    assert pins["dm-sonnet"] == "==2.0.2"
    assert "<2.4" in pins["numpy"]
    assert "tensorflow-cpu" not in pins  # tf-keras needs the full tensorflow wheel


def test_every_dependency_is_pinned_or_bounded():
    for name, specifier in _pyproject_requirements().items():
        assert specifier, f"{name} is not pinned"
