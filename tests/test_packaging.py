"""The package's declared stack: ranges in pyproject.toml, exact versions in the lock file,
environment.yml and the notebooks' install cell following them, Colab's packages inside them."""

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = PROJECT["name"]
LOCK = ROOT / "requirements" / "lock.txt"


def _noxfile_constant(name: str):
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"noxfile.py defines no {name}")


PYTHONS = _noxfile_constant("PYTHONS")


def _declared() -> list[Requirement]:
    groups = [PROJECT["dependencies"], *PROJECT["optional-dependencies"].values()]
    return [
        Requirement(line) for group in groups for line in group if Requirement(line).name != SELF
    ]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_for(python: str) -> dict[str, str]:
    """What the lock file installs on one Python version: name -> exact version."""
    environment = default_environment() | {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_machine": "x86_64",
    }
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"the lock must pin exactly: {line}"
            assert _normal(requirement.name) not in pins, f"pinned twice for {python}: {line}"
            pins[_normal(requirement.name)] = specifier.version
    return pins


def test_pyproject_declares_ranges_and_never_an_exact_version():
    for requirement in _declared():
        assert requirement.specifier, f"{requirement.name} has no range"
        operators = {specifier.operator for specifier in requirement.specifier}
        assert not operators & {"==", "==="}, f"{requirement}: exact versions belong in the lock"


def test_every_supported_python_is_tested_and_allowed():
    allowed = SpecifierSet(PROJECT["requires-python"])
    assert PYTHONS == sorted(PYTHONS, key=lambda v: tuple(map(int, v.split("."))))
    assert PYTHONS[0] == "3.11" and len(PYTHONS) >= 3
    for python in PYTHONS:
        assert allowed.contains(f"{python}.0"), f"requires-python excludes {python}"
    major, minor = map(int, PYTHONS[-1].split("."))
    assert not allowed.contains(f"{major}.{minor + 1}.0"), "an untested Python is allowed"


@pytest.mark.parametrize("python", PYTHONS)
def test_the_lock_pins_every_requirement_inside_its_range(python):
    pins = _lock_for(python)
    for requirement in _declared():
        name = _normal(requirement.name)
        assert name in pins, f"the lock has no {name} for Python {python}: run `nox -s lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"the lock's {name}=={pins[name]} is outside pyproject's {requirement.specifier} "
            f"(Python {python}): run `nox -s lock`"
        )


@pytest.mark.parametrize("python", PYTHONS)
def test_tensorflow_and_tf_keras_share_a_minor_version_in_the_lock(python):
    pins = _lock_for(python)
    assert pins["tensorflow"].split(".")[:2] == pins["tf-keras"].split(".")[:2]
    assert "tensorflow-cpu" not in pins  # tf-keras needs the full tensorflow wheel


def _conda_pip_section() -> list[str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    for entry in environment["dependencies"]:
        if isinstance(entry, dict) and "pip" in entry:
            return entry["pip"]
    raise AssertionError("environment.yml has no pip section")


def test_environment_yml_installs_the_lock_and_pins_nothing_itself():
    lines = _conda_pip_section()
    assert f"-r {LOCK.relative_to(ROOT).as_posix()}" in lines
    others = [line for line in lines if not line.startswith(("-r ", "-e "))]
    assert others == [], f"environment.yml pins {others}: exact versions live in the lock"


def test_environment_yml_installs_the_package_itself_with_every_extra():
    editable = [line for line in _conda_pip_section() if line.startswith("-e")]
    extras = ",".join(PROJECT["optional-dependencies"])
    assert editable == [f"-e .[{extras}]"]


def test_environment_yml_uses_the_oldest_supported_python():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pythons = [entry for entry in environment["dependencies"] if str(entry).startswith("python")]
    assert pythons == [f"python={PYTHONS[0]}"]


def _install_lines() -> dict[str, str]:
    lines = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        found = [
            line.strip()
            for cell in cells
            for line in "".join(cell["source"]).splitlines()
            if "%pip install" in line
        ]
        assert len(found) == 1, f"{path.name}: expected one install line, found {found}"
        lines[path.name] = found[0]
    return lines


def test_every_install_cell_pins_the_release_tag_of_this_version():
    repository = PROJECT["urls"]["Repository"]
    expected = f'%pip install -q "{SELF} @ git+{repository}@v{PROJECT["version"]}"'
    lines = _install_lines()
    assert len(lines) == 4
    for name, line in lines.items():
        assert line == expected, f"{name}: the install cell must read {expected}"


def _colab_ships() -> dict[str, str]:
    shipped = {}
    for line in (ROOT / "colab" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            shipped[_normal(name)] = version
    return shipped


def test_colab_ships_versions_inside_the_ranges_so_the_install_cell_keeps_them():
    shipped = _colab_ships()
    core = [Requirement(line) for line in PROJECT["dependencies"]]
    for requirement in core:
        name = _normal(requirement.name)
        if name in shipped:
            assert requirement.specifier.contains(shipped[name]), (
                f"Colab ships {name}=={shipped[name]}, outside {requirement.specifier}: "
                "the install cell would replace it"
            )
    for name in ["tensorflow", "tensorflow-probability", "tf-keras", "numpy", "matplotlib"]:
        assert name in shipped, f"colab/requirements.txt does not list {name}"


def test_colab_python_is_a_supported_python():
    assert _noxfile_constant("COLAB_PYTHON") in PYTHONS
