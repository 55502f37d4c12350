"""The static site: the executed notebooks as web pages, with search and launch buttons.

`nox -s site` runs `python -m tools.site`, which

1. stages the site's sources in `<out>-src/` (`build/site-src/`): the home page from
   README.md, the pages under `docs/` (`docs/*.md`, in the navigation in the order of
   README's list of where to read more), the executed notebooks with their outputs (nothing
   runs again), the README's gallery, and a results page with every notebook's headline
   numbers next to their references, its parameters and its run time;
2. runs Sphinx (myst-nb and sphinx-book-theme, configured in `site/conf.py`) with warnings
   as errors, into `<out>/` (`build/site/`);
3. puts each executed notebook, as it ran, behind its page's download button, and checks
   the built pages: every link and image inside the site resolves (anchors too) and
   no page loads a script, style sheet or image from another host.

python -m tools.site                                   # build/notebooks -> build/site
python -m tools.site --notebooks build/notebooks-smoke/notebooks --out build/site
python -m tools.site --sweep build/sweeps/04_entropy_monte_carlo-NUM_SAMPLES --out DIR
python -m tools.site --languages en,fa                 # English and Persian only

The site is built in English into `<out>/` and in each translation (`tools.l10n.LANGUAGES`)
into `<out>/<lang>/`, from the same executed notebooks: their markdown cells, README.md and the
pages under `docs/` in that language as far as its catalogs go (`tools.l10n.translate`), every
output the English run's. Every page links its other languages.

A sweep folder (`python -m tools sweep`) given with `--sweep` gets a page of its own
(`tools.sweep.page`); with no `--notebooks`, the site holds the sweeps alone.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

from tools.l10n import LANGUAGES, SOURCE_LANGUAGE
from tools.l10n.translate import localizer, site_words, translated_notebook
from tools.site_results import (
    HEADLINE_MIME,
    executed_notebooks,
    key_figure,
    read_results,
    results_page,
)
from tools.sweep.page import read_sweep, sweep_page

__all__ = [
    "ALL_LANGUAGES",
    "CONF_DIR",
    "build",
    "check_site",
    "docs_page",
    "home_page",
    "main",
    "stage",
]

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "site"
REPOSITORY = "https://github.com/tfp-notebooks/tfp-notebooks"
ALL_LANGUAGES = (SOURCE_LANGUAGE, *LANGUAGES)
# `[![alt](https://host/badge.svg)](target)`: a picture from another host; the site keeps the
# link and shows its alt text instead (the pages load nothing from outside).
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((?:https?:)?//[^)\s]+\)")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")

TOC = """

```{{toctree}}
:hidden:
:caption: {caption}
:maxdepth: 1

{entries}
```
"""


def _local_images_only(markdown: str) -> str:
    return REMOTE_IMAGE.sub(lambda m: m.group(1), markdown)


def _retargeted(markdown: str, page: str, staged: set[str]) -> str:
    """`markdown` of the staged page `page` with its relative links fixed for the site: a link
    to a staged file stays, one to README.md goes to the home page, and one to anything else
    in the repository goes to that file on GitHub. Remote pictures become their alt text."""
    folder = posixpath.dirname(page)

    def retarget(match: re.Match) -> str:
        target = match.group(1)
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or target.startswith("#"):
            return match.group(0)
        path = posixpath.normpath(posixpath.join(folder, parts.path))
        if path in staged:
            return match.group(0)
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if path == "README.md":
            return f"]({posixpath.relpath('index.md', folder or '.')}{fragment})"
        return f"]({REPOSITORY}/blob/main/{path}{fragment})"

    return LINK_TARGET.sub(retarget, _local_images_only(markdown))


def _docs_in_link_order(readme: str, staged: set[str]) -> list[str]:
    """The staged `docs/*.md` pages in the order of README's last link to each (its closing list
    of where to read more), then those it does not link, by name."""
    pages = {p for p in staged if p.startswith("docs/") and p.endswith(".md")}
    linked = [urlsplit(m.group(1)).path.removeprefix("./") for m in LINK_TARGET.finditer(readme)]
    last_first = dict.fromkeys(p for p in reversed(linked) if p in pages)
    ordered = list(reversed(last_first))
    return ordered + sorted(pages - set(ordered))


def home_page(readme: str, staged: set[str], words: dict[str, str] | None = None) -> str:
    """The site's home page: README.md as MyST, with a navigation tree of the notebooks, the
    results page, the pages under `docs/` and the sweeps.

    Args:
      readme: the text of README.md.
      staged: the paths (relative to the site's sources) of the files the site holds, e.g.
        `notebooks/01_distribution_zoo.ipynb` or `docs/speed.md`; relative links to anything
        else point to the repository on GitHub instead.
      words: the navigation's captions in the site's language (`tools.l10n.site_words`).

    Returns:
      The page's MyST markdown.
    """
    text = _retargeted(readme, "index.md", staged).rstrip()
    notebooks = [p[: -len(".ipynb")] for p in sorted(staged) if p.endswith(".ipynb")]
    docs = [p[: -len(".md")] for p in _docs_in_link_order(readme, staged)]
    sweeps = [p[: -len(".md")] for p in sorted(staged) if p.startswith("sweeps/")]
    for caption, entries in (
        ("Notebooks", notebooks),
        ("Results", ["results"] * bool(notebooks)),
        ("Guides", docs),
        ("Sweeps", sweeps),
    ):
        if entries:
            caption = (words or {}).get(caption, caption)
            text += TOC.format(caption=caption, entries="\n".join(entries))
    return text


def docs_page(markdown: str, page: str, staged: set[str]) -> str:
    """A page under `docs/` as the site shows it: its links fixed as the home page's are.

    Args:
      markdown: the page's text.
      page: its path in the repository and in the site's sources, e.g. `docs/speed.md`.
      staged: the paths of the files the site holds (see `home_page`).

    Returns:
      The page's MyST markdown.
    """
    return _retargeted(markdown, page, staged)


def _in_language(path: Path, language: str, root: Path) -> nbformat.NotebookNode:
    """An executed notebook with its markdown in `language` (the English: as it is)."""
    notebook = nbformat.read(path, as_version=4)
    if language == SOURCE_LANGUAGE:
        return notebook
    source = f"notebooks/{path.name}"
    return translated_notebook(notebook, source, language, root, for_jupyter=False)


def _staged_notebook(path: Path, target: Path, language: str, root: Path) -> None:
    """Copies an executed notebook for the site: remote pictures become their alt text, and
    headline outputs keep only their text (the results page shows their numbers)."""
    notebook = _in_language(path, language, root)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = _local_images_only(cell.source)
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            output.get("data", {}).pop(HEADLINE_MIME, None)
    nbformat.write(notebook, target)


def _stage_sweep(folder: Path, src: Path) -> str:
    """Writes a sweep's page (`tools.sweep.page`) and its plots; returns the page's path."""
    info = read_sweep(folder)
    (src / "sweeps" / info["name"]).mkdir(parents=True)
    for plot in info["plots"]:
        shutil.copy2(plot, src / "sweeps" / info["name"] / plot.name)
    page = f"sweeps/{info['name']}.md"
    (src / page).write_text(sweep_page(info, info["name"]), encoding="utf-8")
    return page


def stage(
    notebooks_dir: str | Path | None,
    src: str | Path,
    root: Path = ROOT,
    sweeps: Sequence[str | Path] = (),
    language: str = SOURCE_LANGUAGE,
) -> list[Path]:
    """Writes the site's sources into `src` (emptied first) and returns the notebooks staged.

    With `sweeps` (folders of `python -m tools sweep`), each gets a page; `notebooks_dir`
    None then makes a site of the sweeps alone. `language` other than English puts the
    notebooks' markdown, the home page, the pages under `docs/` and the navigation into that
    language with its catalogs (`root`'s `locales/`).

    Raises:
      FileNotFoundError: if `notebooks_dir` holds no executed notebooks (with what to run),
        or a sweep folder has no `sweep.json`.
    """
    executed = [] if notebooks_dir is None and sweeps else executed_notebooks(notebooks_dir)
    src = Path(src)
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    (src / "figures").mkdir()
    staged = set()
    results = []
    for path in executed:
        _staged_notebook(path, src / "notebooks" / path.name, language, root)
        staged.add(f"notebooks/{path.name}")
        info = read_results(path)
        figure = key_figure(path)
        if figure is not None:
            info["figure"] = f"figures/{path.stem}.{figure.format}"
            (src / info["figure"]).write_bytes(figure.data)
        results.append(info)
    gallery = root / "docs" / "gallery"
    if gallery.is_dir():
        shutil.copytree(gallery, src / "docs" / "gallery")
        staged |= {f"docs/gallery/{p.name}" for p in gallery.iterdir()}
    pages = sorted((root / "docs").glob("*.md"))
    staged |= {f"docs/{p.name}" for p in pages}
    staged |= {_stage_sweep(Path(folder), src) for folder in sweeps}
    (src / "docs").mkdir(exist_ok=True)
    for path in pages:
        page = f"docs/{path.name}"
        text = _translated(path.read_text(encoding="utf-8"), page, language, root)
        (src / page).write_text(docs_page(text, page, staged), encoding="utf-8")
    readme = _translated(
        (root / "README.md").read_text(encoding="utf-8"), "README.md", language, root
    )
    words = site_words(language, root) if language != SOURCE_LANGUAGE else None
    (src / "index.md").write_text(home_page(readme, staged, words), encoding="utf-8")
    if executed:
        (src / "results.md").write_text(results_page(results), encoding="utf-8")
    return executed


def _translated(text: str, page: str, language: str, root: Path) -> str:
    """A page's Markdown (`README.md`, `docs/<name>.md`) in `language`."""
    if language == SOURCE_LANGUAGE:
        return text
    domain = "README" if page == "README.md" else page[: -len(".md")]
    return localizer(language, domain, [(page, text)], root).markdown(text)


class _Links(HTMLParser):
    """The ids of a page, and its links and embedded resources."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []  # <a href>: may leave the site
        self.resources: list[str] = []  # what the page loads: must be local

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if found.get(key):
                self.ids.add(found[key])
        if tag == "a" and found.get("href"):
            self.links.append(found["href"])
        elif tag in ("img", "script", "iframe", "source") and found.get("src"):
            self.resources.append(found["src"])
        elif tag == "link" and found.get("href") and found.get("rel") != "canonical":
            self.resources.append(found["href"])


def check_site(site: str | Path) -> list[str]:
    """The problems of a built site: broken internal links or anchors, remote resources.

    Args:
      site: the folder of the built site (`build/site`).

    Returns:
      One line per problem, "page: what", empty when every link inside the site resolves
      and no page loads anything from another host.

    Raises:
      FileNotFoundError: if `site` has no `index.html`.
    """
    site = Path(site).resolve()
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"site {str(site)!r} has no index.html: build it first")
    pages = {}
    for page in sorted(site.rglob("*.html")):
        if "_static" in page.relative_to(site).parts:
            continue  # the theme's template fragments, not pages
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[page] = parser
    problems = []
    for page, parser in pages.items():
        name = page.relative_to(site)
        for url in parser.resources:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or parts.netloc:
                problems.append(f"{name}: loads {url} from another host")
        for url in parser.links + parser.resources:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url in ("", "#"):
                continue  # another site, mailto:, data:, javascript:, or a no-op link
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(site) or not target.exists():
                problems.append(f"{name}: broken link {url}")
            elif parts.fragment and target in pages:
                if unquote(parts.fragment) not in pages[target].ids:
                    problems.append(f"{name}: no anchor #{parts.fragment} for {url}")
    return problems


def _sphinx(src: Path, out: Path, language: str, languages: Sequence[str], root: Path) -> None:
    """Runs Sphinx on staged sources in one language (warnings are errors)."""
    label = site_words(language, root)["Language"] if language != SOURCE_LANGUAGE else "Language"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-W", "--keep-going"]
    command += ["-D", f"language={language}", "-D", f"l10n_languages={','.join(languages)}"]
    command += ["-D", f"l10n_label={label}"]
    command += ["-n", "-q", "-c", str(CONF_DIR), str(src), str(out)]
    if subprocess.run(command, check=False).returncode:
        raise RuntimeError(f"sphinx-build failed for {language} (see the warnings above)")


def build(
    notebooks_dir: str | Path | None,
    out: str | Path,
    root: Path = ROOT,
    sweeps: Sequence[str | Path] = (),
    languages: Sequence[str] = (SOURCE_LANGUAGE,),
) -> Path:
    """Stages the sources, runs Sphinx (warnings are errors) and checks the built site.

    Args:
      languages: the site's languages, English first: English goes into `out`, each other one
        into `out/<lang>/`, and every page links its counterparts in the others.

    Returns:
      The site's `index.html`.

    Raises:
      FileNotFoundError: if `notebooks_dir` holds no executed notebooks.
      RuntimeError: if Sphinx fails or the built site has broken links or remote resources.
      ValueError: if `languages` does not start with English or names an unknown language.
    """
    out = Path(out)
    languages = list(languages)
    if languages[:1] != [SOURCE_LANGUAGE] or not set(languages) <= set(ALL_LANGUAGES):
        raise ValueError(f"languages must be English, then any of {sorted(LANGUAGES)}")
    for language in languages:
        english = language == SOURCE_LANGUAGE
        target = out if english else out / language
        src = out.with_name(out.name + "-src" + ("" if english else f"-{language}"))
        executed = stage(notebooks_dir, src, root, sweeps, language)
        _sphinx(src, target, language, languages, root)
        if not english:  # myst-nb's working copies, beside the output folder: inside the site
            shutil.rmtree(out / "jupyter_execute", ignore_errors=True)
        for path in executed:  # the download button offers each notebook exactly as it ran
            download = target / "_sources" / "notebooks" / path.name
            if english:
                shutil.copy2(path, download)
            else:  # ... with its markdown in the page's language
                nbformat.write(_in_language(path, language, root), download)
    problems = check_site(out)
    if problems:
        raise RuntimeError("the built site has problems:\n  " + "\n  ".join(problems))
    return out / "index.html"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__)
    parser.add_argument(
        "--notebooks",
        help="the executed notebooks (default build/notebooks, which nox -s notebooks writes; "
        "with --sweep, none unless given)",
    )
    parser.add_argument(
        "--sweep",
        action="append",
        default=[],
        help="a sweep's folder (python -m tools sweep): it gets a page; may be repeated",
    )
    parser.add_argument("--out", default=str(ROOT / "build" / "site"), help="the site's folder")
    parser.add_argument(
        "--languages",
        default=",".join(ALL_LANGUAGES),
        help=f"comma-separated, English first (default {','.join(ALL_LANGUAGES)})",
    )
    args = parser.parse_args(argv)
    notebooks = args.notebooks
    if notebooks is None and not args.sweep:
        notebooks = str(ROOT / "build" / "notebooks")
    try:
        languages = [code.strip() for code in args.languages.split(",") if code.strip()]
        index = build(notebooks, args.out, sweeps=args.sweep, languages=languages)
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        print(f"site: {error}", file=sys.stderr)
        return 1
    print(f"site: {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
