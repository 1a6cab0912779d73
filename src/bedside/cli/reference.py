"""The CLI reference page (docs/cli.md), made from the commands themselves.

Every command of ``bedside`` with its one-line purpose, its arguments and every option with its
help text, in the order the command tree gives them. ``python -m bedside.cli.reference >
docs/cli.md`` writes the page; ``tests/unit/test_documented.py`` fails when the committed page
is not what this makes, so a new command or option cannot ship without its line (and its help
text is where it is documented).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from typer.main import get_command

__all__ = ["commands", "main", "render"]

_HEAD = """# Command-line reference

Made from the commands themselves by `python -m bedside.cli.reference > docs/cli.md`
(`tests/unit/test_documented.py` checks it is current). Each command's page in these docs says
more: `bedside serve` and `bedside admin` in the README and docs/operations.md, the device
commands in docs/device-cli.md, review in docs/sync-server.md, upstream in docs/upstream.md,
support in docs/support.md.
"""


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every leaf command under ``group`` as ``("bedside a b", command)``. Typer's commands
    are its own click classes, so a group is known by its ``commands``."""
    if isinstance(getattr(group, "commands", None), dict):
        for name, sub in sorted(group.commands.items()):
            if not sub.hidden:
                yield from commands(sub, (*path, name))
    elif path:
        yield " ".join(("bedside", *path)), group


def _line(text: str | None) -> str:
    first = (text or "").strip().split("\n\n", 1)[0]
    return " ".join(first.split()).replace("|", "\\|")


def render() -> str:
    from bedside.cli import app

    out = [_HEAD]
    for name, command in commands(get_command(app)):
        out.append(f"\n## `{name}`\n\n{_line(command.help)}\n")
        rows = []
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                what = _line(getattr(param, "help", None))
                rows.append(f"| `{param.human_readable_name}` (argument) | {what} |")
                continue
            flags = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
            if flags == "`--help`":
                continue
            rows.append(f"| {flags} | {_line(getattr(param, 'help', None))} |")
        if rows:
            out.append("\n| option | what it does |\n|---|---|\n" + "\n".join(rows) + "\n")
    return "".join(out)


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
