"""Sphinx configuration of the site (`nox -s site`, `python -m tools.site`).

`tools.site` stages the sources (home page from README.md, the executed notebooks, the
results page) and runs Sphinx with this folder as its configuration directory. The notebooks
are shown as the main job executed them: myst-nb never runs them again. Everything the pages
load is in the built site (MathJax included), so the site builds and reads offline.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools.l10n: plain constants
from tools.l10n import LANGUAGES, SOURCE_LANGUAGE  # noqa: E402

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

# The language switcher and the right-to-left layout (tools.site builds each language with
# -D language=... -D l10n_languages=en,ko,...; one language: no switcher).
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["l10n.css"]

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
    "article_header_end": ["article-header-buttons.html", "language-switcher.html"],
}
# Light or dark as the reader's system prefers (an empty mode logs an error in the console).
html_context = {"default_mode": "auto"}
# Text as written: headline names, code words and quotes in prose are shown exactly as the
# notebooks print them (Sphinx would otherwise curl quotes and apostrophes).
smartquotes = False

_NAMES = {SOURCE_LANGUAGE: ("English", False)} | {
    code: (language.name, language.rtl) for code, language in LANGUAGES.items()
}


def _language_links(app, pagename, templatename, context, doctree) -> None:
    """The page's counterparts in the site's other languages, for the switcher: English at the
    site's root, each other language in its folder."""
    codes = [code for code in app.config.l10n_languages.split(",") if code]
    current = app.config.language or SOURCE_LANGUAGE
    if len(codes) < 2:
        return
    to_root = "../" * pagename.count("/") + ("../" if current != SOURCE_LANGUAGE else "")
    context["l10n_label"] = app.config.l10n_label
    context["l10n_links"] = [
        {
            "code": code,
            "tag": code.replace("_", "-"),
            "name": _NAMES[code][0],
            "rtl": _NAMES[code][1],
            "current": code == current,
            "href": f"{to_root}{'' if code == SOURCE_LANGUAGE else code + '/'}{pagename}.html",
        }
        for code in codes
    ]


def _launch_translated_copy(app, pagename, templatename, context, doctree) -> None:
    """On a translated notebook's page, the Colab and Binder buttons open the language's copy
    (notebooks/<lang>/NN_name.ipynb)."""
    current = app.config.language or SOURCE_LANGUAGE
    if current != SOURCE_LANGUAGE and pagename.startswith("notebooks/"):
        english = f"/{pagename}.ipynb"
        translated = f"/notebooks/{current}/{pagename.split('/', 1)[1]}.ipynb"
        for group in context.get("header_buttons", []):
            for button in (
                group.get("buttons", []) if group.get("label") == "launch-buttons" else []
            ):
                button["url"] = button["url"].replace(english, translated)


def setup(app):
    app.add_config_value("l10n_languages", "", "html", types=frozenset({str}))
    app.add_config_value("l10n_label", "Language", "html", types=frozenset({str}))
    # before the theme drops templates that render empty (priority 500)
    app.connect("html-page-context", _language_links, priority=400)
    # after sphinx-book-theme adds its launch buttons (priority 501)
    app.connect("html-page-context", _launch_translated_copy, priority=600)
