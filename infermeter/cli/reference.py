"""The CLI reference (docs/cli.md), written from the commands themselves.

``python -m infermeter.cli.reference > docs/cli.md`` regenerates it; a test fails when the file
and the commands disagree, so the reference stays complete.
"""

from __future__ import annotations

from typing import Any

from typer.main import get_command


def _walk(cmd: Any, path: list[str]):
    yield path, cmd
    if hasattr(cmd, "commands"):
        for name in sorted(cmd.commands):
            yield from _walk(cmd.commands[name], [*path, name])


def _first_paragraph(text: str | None) -> str:
    text = (text or "").strip()
    return " ".join(text.split("\n\n")[0].split())


def _option_line(p: Any) -> str:
    if p.param_type_name == "argument":
        return f"- `{p.name.upper()}` (argument{'' if p.required else ', optional'})"
    names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
    help_text = " ".join((getattr(p, "help", "") or "").split())
    required = " **required**" if p.required else ""
    return f"- {names}{required}: {help_text}".rstrip(": ")


def render() -> str:
    from infermeter.cli.app import app

    root = get_command(app)
    lines = [
        "# CLI reference",
        "",
        "Generated from the commands (`python -m infermeter.cli.reference > docs/cli.md`); a test keeps it",
        "in step. Every command also answers `--help`. Exit codes: `0` success, `1` the command ran and",
        "found a problem, `2` bad input (arguments, configuration, files), `3` something it needs could",
        "not be reached.",
        "",
    ]
    for path, cmd in _walk(root, ["infermeter"]):
        if len(path) == 1:
            continue
        heading = "#" * min(len(path), 4)
        lines += [f"{heading} `{' '.join(path)}`", ""]
        summary = _first_paragraph(cmd.help)
        if summary:
            lines += [summary, ""]
        params = [p for p in cmd.params if p.name != "help"]
        if params and not hasattr(cmd, "commands"):
            lines += [_option_line(p) for p in params] + [""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
