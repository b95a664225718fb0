"""The README's Python quick start runs as written (its data paths pointed
at the shared data, in a scratch directory)."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DATA = os.environ.get("FRUGAL_DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))


@pytest.mark.skipif(not os.path.isdir(DATA), reason="shared/data not found")
def test_python_quick_start(tmp_path):
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme[readme.index("## Python\n"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace("../shared/data", os.path.abspath(DATA))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert "'p@1'" in lines[0]
    assert float(lines[1]) == 1.0
    assert "'accuracy'" in lines[2]
    assert (tmp_path / "bibtex.model").exists()
