"""The type stubs (frugal/_frugal.pyi) match the built extension: every name
in one is in the other (mypy's stubtest; pybind11 signatures are not
introspectable, so names, classes and properties are what it checks;
stubtest_allowlist.txt lists what pybind11 makes differ, and why)."""

import os
import subprocess
import sys

import pytest

import frugal


def test_stubtest_finds_the_stubs_and_the_module_agree():
    pytest.importorskip("mypy")
    pkg = os.path.dirname(frugal.__file__)
    assert os.path.exists(os.path.join(pkg, "_frugal.pyi"))
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    out = subprocess.run([sys.executable, "-m", "mypy.stubtest", "frugal._frugal",
                          "--ignore-disjoint-bases", "--allowlist",
                          os.path.join(os.path.dirname(__file__), "stubtest_allowlist.txt")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_accepts_the_package_against_its_stubs(tmp_path):
    """frugal/__init__.py and frugal/sklearn.py type-check against the stubs
    (scikit-learn and scipy have no stubs here: their imports are Any)."""
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy", "--ignore-missing-imports",
                          "--no-incremental", "-m", "frugal", "-m", "frugal.sklearn",
                          "-m", "frugal._frugal"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
