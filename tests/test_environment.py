"""environment.yml: Python and pip from conda, everything else from pyproject.toml."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


ROOT = Path(__file__).resolve().parent.parent


# ----- environment.yml: python and pip from conda, everything else from pyproject.toml ---------------------------


def _conda_python_versions(spec: str) -> list[str]:
    """The Python versions 3.6 … 3.20 (x.y.0 and x.y.9) that a conda match spec for python allows: 'python',
    'python>=3.11', 'python=3.12' (conda: 3.12.*), 'python>=3.11,<3.14', 'python 3.12.*'."""
    from packaging.specifiers import SpecifierSet

    constraint = spec.removeprefix("python").strip()
    clauses = []
    for clause in filter(None, (part.strip() for part in constraint.split(","))):
        if clause.startswith("=") and not clause.startswith("=="):  # conda's 'python=3.12' is 3.12.*
            clause = "==" + clause.lstrip("=").removesuffix(".*") + ".*"
        elif clause[0].isdigit():  # 'python 3.12.*'
            clause = "==" + clause
        clauses.append(clause)
    allowed = SpecifierSet(",".join(clauses))
    return [f"3.{minor}.{patch}" for minor in range(6, 21) for patch in (0, 9) if f"3.{minor}.{patch}" in allowed]


def _check_environment(environment: dict, pyproject: dict) -> None:
    """User guide: `conda env create -f environment.yml` takes python and pip from conda, then `pip install -e .[dev]`;
    the one dependency list is pyproject.toml."""
    from packaging.specifiers import SpecifierSet

    dependencies = environment["dependencies"]
    conda = [d for d in dependencies if isinstance(d, str)]
    pip_sections = [d for d in dependencies if isinstance(d, dict)]
    names = [re.split(r"[ <>=!~]", d, maxsplit=1)[0] for d in conda]
    assert sorted(names) == ["pip", "python"], f"conda installs {conda}: only python and pip belong there"
    python = next(d for d in conda if d.startswith("python"))
    versions = _conda_python_versions(python)
    requires = SpecifierSet(pyproject["project"]["requires-python"])
    assert versions, f"{python!r} allows no Python at all"
    assert all(v in requires for v in versions), (python, requires, [v for v in versions if v not in requires])
    assert pip_sections == [{"pip": ["-e .[dev]"]}], f"pip installs {pip_sections}: expected only `-e .[dev]`"
    assert "dev" in pyproject["project"]["optional-dependencies"]


def test_the_conda_environment_is_python_and_pip_then_the_project_from_pyproject():
    import tomllib

    import yaml

    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    _check_environment(environment, pyproject)
