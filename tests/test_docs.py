"""The documentation stays in step with the code.

The fast tests check what a stale page would get wrong (the API page and the sampler table
list every public name, the code of the quickstart page and of the README's quickstart
runs, every gallery script has a title). The
slow test builds the whole site with warnings as errors, running the gallery, exactly as
the README's docs command does.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import skbait
from public_api import public_api

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

# As the API page names them, relative to ``.. currentmodule:: skbait``.
PUBLIC = [name.removeprefix("skbait.") for name in public_api()]
SAMPLERS = [name for name in skbait.__all__ if name.endswith("Sampler")]


def _read(path):
    return path.read_text(encoding="utf-8")


def _autosummary_entries(text):
    """Names listed in the ``.. autosummary::`` blocks of an rst page."""
    entries, inside = [], False
    for line in text.splitlines():
        if line.startswith(".. autosummary::"):
            inside = True
        elif inside and line and not line.startswith(" "):
            inside = False
        elif inside and line.strip() and not line.strip().startswith(":"):
            entries.append(line.strip())
    return entries


def _python_blocks(text):
    """The bodies of the ``.. code-block:: python`` directives of an rst page, dedented."""
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: python\n((?:\n|   .*\n)+)", text, re.M):
        lines = match.group(1).splitlines()
        blocks.append("\n".join(line[3:] for line in lines))
    return blocks


def test_api_page_lists_every_public_name():
    entries = _autosummary_entries(_read(DOCS / "api.rst"))
    missing = [name for name in PUBLIC if name not in entries]
    assert not missing, f"docs/api.rst does not list {missing}"


def test_sampler_table_lists_every_sampler():
    table = _read(DOCS / "user_guide" / "samplers.rst")
    missing = [name for name in SAMPLERS if name not in table]
    assert not missing, f"docs/user_guide/samplers.rst does not describe {missing}"


def _run_blocks(blocks, filename):
    namespace = {"__name__": filename}
    for block in blocks:
        exec(compile(block, filename, "exec"), namespace)
    return namespace


def test_quickstart_code_runs():
    blocks = _python_blocks(_read(DOCS / "quickstart.rst"))
    assert len(blocks) >= 3
    namespace = _run_blocks(blocks, "docs/quickstart.rst")
    trained, kept = namespace["trained"], namespace["sampler"].estimator_
    assert kept is not trained  # prefit=True keeps a copy of the fitted model
    np.testing.assert_array_equal(kept.coef_, trained.coef_)


def test_readme_quickstart_runs():
    section = re.search(r"^## Quickstart\n(.*?)(?=^## |\Z)", _read(ROOT / "README.md"), re.M | re.S)
    assert section, "README.md has no '## Quickstart' section"
    blocks = re.findall(r"^```python\n(.*?)^```", section.group(1), re.M | re.S)
    assert blocks, "README.md's quickstart has no python code block"
    namespace = _run_blocks(blocks, "README.md")
    assert "sampler" in namespace and hasattr(namespace["sampler"], "estimator_")


def test_readme_names_every_supported_model():
    from skbait._heads import _models

    text = _read(ROOT / "README.md")
    classes = (_models._CLASSIFIERS + _models._SGD_CLASSIFIERS + _models._MLPS
               + _models._REGRESSORS + _models._SEARCHES)
    names = [cls.__name__ for cls in classes] + list(_models._NETS + _models._HALVING_SEARCHES)
    missing = [name for name in names if name not in text]
    assert not missing, f"README.md's model list lacks {missing}"


@pytest.mark.parametrize("path", [ROOT / "README.md", DOCS / "user_guide" / "pytorch.rst"],
                         ids=lambda p: p.name)
def test_pytorch_without_skorch_example_runs(path):
    text = _read(path)
    if path.suffix == ".md":
        section = re.search(r"^## PyTorch without skorch\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        assert section, "README.md has no '## PyTorch without skorch' section"
        blocks = re.findall(r"^```python\n(.*?)^```", section.group(1), re.M | re.S)
    else:
        blocks = _python_blocks(text)
    assert blocks, f"{path.name} shows no PyTorch example"
    namespace = _run_blocks(blocks, path.name)
    picks = namespace["picks"]
    assert picks.shape == (10,) and len(set(picks)) == 10 and picks.max() < 1000


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("plot_*.py")), ids=lambda p: p.name)
def test_gallery_script_has_a_title(script):
    # sphinx-gallery needs a module docstring that starts with an underlined title.
    match = re.match(r'^(?:#.*\n)*\s*(?:r?""")\n(.+)\n(=+)\n', _read(script))
    assert match, f"{script.name} must open with a docstring title underlined with '='"
    assert len(match.group(2)) >= len(match.group(1).strip())


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    for module in ("sphinx", "sphinx_gallery", "numpydoc", "pydata_sphinx_theme"):
        pytest.importorskip(module, reason='needs the docs extra: pip install -e ".[docs]"')
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
        # run every example, even those an earlier build left in docs/auto_examples
        "-D", "sphinx_gallery_conf.run_stale_examples=True",
        "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html"),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert (tmp_path / "html" / "generated" / "skbait.BaitSampler.html").exists()
    assert (tmp_path / "html" / "auto_examples" / "index.html").exists()
