"""Sphinx configuration of the skbait documentation.

Build (warnings are errors; the gallery runs every ``examples/plot_*.py`` on the CPU)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import os
import sys

# Document this checkout, not whatever skbait happens to be installed.
sys.path.insert(0, os.path.abspath(".."))
# The gallery runs on the CPU whatever machine builds the docs, so that its numbers are
# reproducible. Its problems are small: one thread per library is about as fast, and on a
# shared 2-core CI runner it avoids threads spinning against each other (a several-fold
# slowdown there). Set before numpy and torch are imported.
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from sphinx_gallery.sorting import ExplicitOrder  # noqa: E402

import skbait  # noqa: E402
from skbait._heads import supported_models_table  # noqa: E402

# The table of supported models is generated from the code that accepts them;
# user_guide/models.rst includes it (docs/generated/ is not under version control).
_GENERATED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated")
os.makedirs(_GENERATED, exist_ok=True)
with open(os.path.join(_GENERATED, "supported_models.inc"), "w", encoding="utf-8") as _f:
    _f.write(supported_models_table())

project = "skbait"
author = "the skbait developers"
copyright = "2026, the skbait developers"
release = skbait.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # Serves MathJax 3 from the site itself (_static/mathjax/) instead of a CDN, so that
    # the maths renders without a network. It sets ``mathjax_path``; keep it after
    # sphinx.ext.mathjax.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
# sg_execution_times.rst: left by builds that wrote computation times (see the gallery
# settings below); those pages load their table scripts from a CDN.
exclude_patterns = [
    "_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
    "sg_execution_times.rst", "auto_examples/sg_execution_times.rst",
]
root_doc = "index"
default_role = "literal"

# -- API reference ---------------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
# numpydoc renders Parameters / Attributes / Examples; the class template lists methods.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- Gallery ---------------------------------------------------------------------------
# The quickstart comes first; it also draws the learning curve of the landing page
# (index.rst shows auto_examples/images/sphx_glr_plot_quickstart_001.png, its first
# figure). Examples not listed follow the listed ones, in no set order: add them here.
GALLERY_ORDER = [
    "plot_quickstart.py",
    "plot_digits_baselines.py",
    "plot_regression.py",
    "plot_figure3.py",
    "plot_skorch_bait.py",
    "distributed_bait.py",  # not run by the build (no plot_ prefix): needs torchrun
    "*",
]
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("skbait",),
    "backreferences_dir": os.path.join("generated", "backreferences"),
    "reference_url": {"skbait": None},
    "within_subsection_order": ExplicitOrder(GALLERY_ORDER),
    "remove_config_comments": True,
    "show_memory": False,
    # The timing pages load their table scripts from a CDN: the site must work offline.
    "write_computation_times": False,
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skbait {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_show_sourcelink = False


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document the members skbait defines (``fit``, ``select``), not scikit-learn's.

    The class template asks for inherited members so that ``BaseSampler.fit`` and
    ``select`` appear on every sampler's page; ``get_params`` and friends belong to
    scikit-learn's documentation, a NamedTuple's fields to its Attributes section.
    """
    if what != "class" or isinstance(obj, property):
        return None
    # Builtins (a NamedTuple's count / index, its field getters) have no module.
    module = getattr(obj, "__module__", None) or ""
    return True if not module.startswith("skbait") else None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
