"""Reading a notebook's code cells as Python, for the tests that parse or run them."""


def cell_python(source: str) -> str:
    """A code cell as plain Python: IPython magics and shell lines become `pass`."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass"
        lines.append(line)
    return "\n".join(lines)
