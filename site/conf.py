"""Sphinx configuration of the site (`nox -s site`, `python -m tools.site`).

`tools.site` stages the sources (home page from README.md, the executed notebooks, the
results page) and runs Sphinx with this folder as its configuration directory. The notebooks
are shown as the main job executed them: myst-nb never runs them again. Everything the pages
load is in the built site (MathJax included), so the site builds and reads offline.
"""

project = "TFP notebooks"
author = "the tfp-notebooks authors"
copyright = "the tfp-notebooks authors, Apache-2.0"
REPOSITORY = "https://github.com/tfp-notebooks/tfp-notebooks"

extensions = [
    "myst_nb",
    "sphinx.ext.mathjax",
    # MathJax 3 from a Python package, copied into _static/mathjax: no CDN.
    "sphinx-mathjax-offline",
]

# The notebooks hold their outputs from `nox -s notebooks`: show them, never execute.
nb_execution_mode = "off"
nb_merge_streams = True  # one block per cell for stdout, not one per print
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

exclude_patterns = ["**/.ipynb_checkpoints"]
nitpicky = True
suppress_warnings = []

html_theme = "sphinx_book_theme"
html_title = "TFP notebooks"
# The download button offers each page's source: for a notebook, the executed .ipynb
# (tools.site puts the notebook there as the main job wrote it).
html_copy_source = True
html_sourcelink_suffix = ""
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {
        "colab_url": "https://colab.research.google.com",
        # Binder builds its image from environment.yml at the repository's root.
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
    },
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
# Light or dark as the reader's system prefers (an empty mode logs an error in the console).
html_context = {"default_mode": "auto"}
# Text as written: headline names, code words and quotes in prose are shown exactly as the
# notebooks print them (Sphinx would otherwise curl quotes and apostrophes).
smartquotes = False
