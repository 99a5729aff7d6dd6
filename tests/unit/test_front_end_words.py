"""The layers below the front ends speak neither the window's words nor the CLI's only.

A sentence of api/, services/, tunnel/, store/, receiver/ or core/ reaches both the window
and the CLI (an error, a problem shown by `status` or `tunnel show`): "Reload the list" or
"press Restart" means nothing in a terminal. Each front end adds its own words; these
layers say what happened and what to do in words both share.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pilot_desktop

ROOT = Path(pilot_desktop.__file__).parent
LAYERS = ("api", "services", "tunnel", "store", "receiver", "core")
# Gestures, widgets and places of the window, and an act only the window offers ("restart
# the tunnel": its button; serve has no such command).
WINDOW_WORDS = re.compile(
    r"\b(press(es)?|click(s|ing)?|reload|tick(ed)?|untick(ed)?|button|pick (a|the)|this (dialog|pane)"
    r"|panes?|window's|tunnel box|restart the tunnel)\b",
    re.IGNORECASE,
)


def sentences(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that are not docstrings, nor a setting's description
    (`Field(description=...)`: the settings dialog shows it beside the window's own setting)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    docs |= {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "description"
        for part in ast.walk(node.value)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_shared_sentences_use_no_window_words() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:100]}"
        for layer in LAYERS
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, text in sentences(path)
        if WINDOW_WORDS.search(text)
    ]
    assert found == []


def test_the_cli_speaks_no_window_words() -> None:
    """What the CLI prints is read in a terminal: no pane to open, no button to press."""
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:100]}"
        for path in sorted((ROOT / "cli").rglob("*.py"))
        for line, text in sentences(path)
        if WINDOW_WORDS.search(text)
    ]
    assert found == []
