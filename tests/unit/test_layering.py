"""Only pilot_desktop.ui may import Qt: checked by import-linter and, independently, by ast."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "pilot_desktop"
UI = PACKAGE / "ui"
QT_MODULES = frozenset({"PySide6", "shiboken6", "qasync", "pytestqt"})


def test_import_linter_contracts_hold() -> None:
    # The venv's script, next to the interpreter running the tests (not resolved:
    # .venv/bin/python is a symlink to the base interpreter).
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the test extras (make venv)")
    proc = subprocess.run(
        [str(exe), "--no-cache", "--no-logo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"lint-imports failed:\n{proc.stdout}\n{proc.stderr}"


def qt_imports(source: str, filename: str = "<string>") -> list[str]:
    """`file:line: module` for each import of a Qt module, static or via importlib."""
    return [
        f"{filename}:{node.lineno}: {name}"
        for node in ast.walk(ast.parse(source, filename=filename))
        if isinstance(node, ast.stmt | ast.expr)
        for name in _imported_names(node)
        if name.split(".")[0] in QT_MODULES
    ]


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        # Relative imports stay inside pilot_desktop: import-linter's business.
        return [node.module] if node.level == 0 and node.module else []
    if isinstance(node, ast.Call) and node.args:
        func, arg = node.func, node.args[0]
        dynamic = (isinstance(func, ast.Name) and func.id == "__import__") or (
            isinstance(func, ast.Attribute) and func.attr == "import_module"
        )
        if dynamic and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return [arg.value]
    return []


def test_checker_catches_qt_imports() -> None:
    source = (
        "import PySide6.QtCore\n"
        "from qasync import QEventLoop\n"
        "import importlib\n"
        "def f():\n"
        "    from pytestqt import qtbot\n"
        "    return importlib.import_module('PySide6.QtWidgets')\n"
        "from .ui import window\n"  # relative: another layer's business (import-linter)
        "import json\n"
    )
    hits = sorted(hit.split(": ")[1] for hit in qt_imports(source))
    assert hits == ["PySide6.QtCore", "PySide6.QtWidgets", "pytestqt", "qasync"]


def test_only_ui_imports_qt() -> None:
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if not p.is_relative_to(UI)]
    assert PACKAGE / "__init__.py" in files, "walked the wrong tree"
    offenders = [
        hit
        for path in files
        for hit in qt_imports(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    ]
    assert not offenders, "Qt imported outside pilot_desktop/ui:\n" + "\n".join(offenders)
