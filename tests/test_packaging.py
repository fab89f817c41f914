"""A non-editable install (`pip install git+...`, as the notebooks do in Colab) ships only the
folders setuptools finds as packages: every source folder needs an `__init__.py`."""

from pathlib import Path

import alphago_jax


def test_every_source_folder_is_a_package():
    root = Path(alphago_jax.__file__).parent
    folders = {p.parent for p in root.rglob("*.py")}
    missing = sorted(str(f.relative_to(root)) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"folders without __init__.py (left out of wheels): {missing}"
