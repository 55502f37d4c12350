"""`python -m tools <command>`: run the notebooks, prepare the regression run, re-record
golden cells, refresh the gallery, sweep a grid. See `tools/__init__.py`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tools import gallery, goldens, lessons
from tools.notebooks import (
    BUILD_DIR,
    check_overrides,
    declared_parameters,
    execute,
    notebooks,
    parameters_for,
)


def _run(args, paths, overrides) -> int:
    failures = []
    for path in paths:
        params = parameters_for(path, overrides, smoke=args.smoke)
        executed = args.out / "notebooks" / path.name
        print(f"running {path.name} with {params or 'its defaults'}", flush=True)
        try:
            execute(path, executed, params)
        except Exception as error:  # papermill raises PapermillExecutionError and friends
            failures.append(f"{path.name}: {type(error).__name__}: {error}".splitlines()[0])
    folder = args.out / "notebooks"
    print(f"executed notebooks: {folder}")
    print(f"their site (nox -s notebooks builds it): nox -s site -- --notebooks {folder}")
    if failures:
        print("failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def _prepare(args, paths, overrides) -> int:
    for path in paths:
        params = parameters_for(path, overrides, smoke=True)
        prepared = args.out / "prepared" / path.name
        execute(path, prepared, params, prepare_only=True)
        count = goldens.inject(prepared, params)
        print(f"prepared {path.name} with {params} and {count} golden cell(s)")
    return 0


def _goldens(args, paths, overrides) -> int:
    if args.check is not None:
        return _check_goldens(args.check, paths)
    for path in paths:
        executed = args.out / "goldens" / path.name
        params = parameters_for(path, overrides, smoke=True)
        execute(path, executed, params)
        count = goldens.record(path, executed, params)
        print(f"{path.name}: {count} golden cell(s) recorded in {goldens.golden_path(path)}")
        goldens.strip(path)
    return 0


def _check_goldens(folder: Path, paths) -> int:
    problems = []
    for path in paths:
        executed = folder / path.name
        if not executed.exists():
            problems.append(f"{path.name}: not under {folder}: run `python -m tools run --smoke`")
            continue
        found = goldens.check(executed)
        count = len(goldens.load(path)["cells"])
        print(f"{path.name}: {count - len(found)} of {count} golden cell(s) match")
        problems += found
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0


def _gallery(args, paths, overrides) -> int:
    executed = [args.out / "notebooks" / p.name for p in paths]
    missing = [p.name for p in executed if not p.exists()]
    if missing:
        raise SystemExit(f"no executed {', '.join(missing)} under {args.out}: run `tools run`")
    try:
        gallery.check_default_runs(executed)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    print(f"gallery: {gallery.export_gallery(executed)}")
    return 0


def _lessons(args, paths, overrides) -> int:
    if args.write:
        for path in paths:
            for name in lessons.write(path):
                print(f"{path.name}: wrote {name}")
    found = [str(d) for path in paths for d in lessons.differences(path)]
    print("\n".join(found) or "every lesson cell matches support")
    return 1 if found else 0


def _list(args, paths, overrides) -> int:
    for path in paths:
        print(path.name, json.dumps(declared_parameters(path)))
    return 0


COMMANDS = {
    "run": (_run, "execute the notebooks into OUT/notebooks"),
    "prepare": (_prepare, "inject the smoke parameters into OUT/prepared (for nbval)"),
    "goldens": (_goldens, "re-record the golden cells from a smoke run (--check DIR: compare)"),
    "gallery": (_gallery, "refresh docs/gallery from the default run in OUT/notebooks"),
    "list": (_list, "print each notebook's parameters and defaults"),
    "lessons": (_lessons, "check that lesson cells and support hold the same code (--write: sync)"),
}
SWEEP_HELP = "one notebook over a grid of parameters times seeds (`python -m tools sweep -h`)"
L10N_HELP = "update and check the translations' catalogs and notebooks (`python -m tools l10n -h`)"


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per task, the shared options on each."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--only", help="only notebooks whose file name contains this")
    common.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="papermill parameter for every notebook that declares NAME (VALUE is YAML)",
    )
    common.add_argument("--out", type=Path, default=BUILD_DIR, help="build directory")
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (_, text) in COMMANDS.items():
        sub = commands.add_parser(name, parents=[common], help=text, description=text)
        if name == "run":
            sub.add_argument("--smoke", action="store_true", help="the CI smoke parameters")
        if name == "goldens":
            sub.add_argument(
                "--check",
                type=Path,
                metavar="DIR",
                help="compare the smoke run executed in DIR with the goldens instead (no run)",
            )
        if name == "lessons":
            sub.add_argument(
                "--write", action="store_true", help="copy the notebooks' definitions to support"
            )
    commands.add_parser("sweep", help=SWEEP_HELP, add_help=False)  # its own parser: tools.sweep
    commands.add_parser("l10n", help=L10N_HELP, add_help=False)  # its own: tools.l10n.command
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sweep"]:
        from tools import sweep

        return sweep.main(argv[1:])
    if argv[:1] == ["l10n"]:
        from tools.l10n import command

        return command.main(argv[1:])
    args = build_parser().parse_args(argv)
    paths = notebooks(args.only)
    overrides = [tuple(p) for p in args.parameter]
    check_overrides(paths, overrides)
    return COMMANDS[args.command][0](args, paths, overrides)


if __name__ == "__main__":
    raise SystemExit(main())
