"""Packaging: export/, runtimes/ and configs/ are installed only as fqss_edge.export / .runtimes / .configs, every
source folder is installed, and no TensorFlow is installed."""

import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SOURCE_ROOTS = {"fqss_edge": "fqss_edge", "fqss_edge.export": "export", "fqss_edge.runtimes": "runtimes",
                "fqss_edge.configs": "configs"}

PROBE = """
import importlib.util, json
from importlib.resources import files
import fqss_edge.export, fqss_edge.runtimes, fqss_edge.configs
print(json.dumps({
    "export": importlib.util.find_spec("export") is not None,
    "runtimes": importlib.util.find_spec("runtimes") is not None,
    "configs": importlib.util.find_spec("configs") is not None,
    "fqss_edge.export": fqss_edge.export.__file__,
    "fqss_edge.runtimes": fqss_edge.runtimes.__file__,
    "yaml": sorted(r.name for r in files("fqss_edge.configs").iterdir() if r.name.endswith(".yaml")),
}))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    """What the installed distribution exposes, seen from a folder outside the repository."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # no PYTHONPATH: only what is installed
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["export", "runtimes", "configs"])
def test_no_bare_top_level_package(probe, name):
    assert probe[name] is False, f"'{name}' is importable as a top-level package; it must only be fqss_edge.{name}"


@pytest.mark.parametrize("package, folder", [("fqss_edge.export", "export"), ("fqss_edge.runtimes", "runtimes")])
def test_mapped_packages_resolve(probe, package, folder):
    path = Path(probe[package])
    assert path.name == "__init__.py" and path.parent.name in (folder, package.split(".")[-1])


def test_configs_are_package_resources(probe):
    shipped = sorted(p.name for p in (REPO / "configs").glob("*.yaml"))
    assert shipped and set(shipped) <= set(probe["yaml"])


def _source_packages() -> set[str]:
    found = set()
    for package, folder in SOURCE_ROOTS.items():
        root = REPO / folder
        for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            if "__pycache__" not in d.parts and any(d.glob("*.py")):
                rel = d.relative_to(root).parts
                found.add(".".join((package, *rel)))
    return found


def test_every_source_folder_installs_under_fqss_edge(tmp_path):
    """setup.py discovers the packages; each source folder must import, under its fqss_edge name, from outside."""
    packages = sorted(_source_packages())
    code = "import importlib, sys\nfor p in sys.argv[1:]: importlib.import_module(p)"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code, *packages], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, f"not installed (re-run pip install -e .?): {out.stderr.strip().splitlines()[-1]}"


def test_no_tensorflow():
    assert importlib.util.find_spec("tensorflow") is None, "TensorFlow is installed; fqss-edge must not need it"
    with pytest.raises(ImportError):
        import tensorflow  # noqa: F401
    deps = PYPROJECT["project"]["dependencies"] + [
        d for ds in PYPROJECT["project"]["optional-dependencies"].values() for d in ds]
    assert not [d for d in deps if d.lower().startswith("tensorflow")]
