"""The Settings dialog speaks to operators: no visible text holds the file's or the code's
words (null, Unix time, raw number ids, pydantic's "Value error", dotted paths), numbers are
shown by name (the id in the tooltip), snoozes say until when in clock words, a refused
value is explained in the dialog's words, and nothing scrolls sideways at 640 px. The
file's words stay in the model (settings.json and the CLI's errors need them)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QScrollArea,
    QWidget,
)

from pilot_desktop.services.config import SETTINGS, Config, SettingsError, validate
from pilot_desktop.services.paths import resolve
from pilot_desktop.ui.settings_dialog import SettingsDialog

# Words of the file or the code, never of the dialog.
DEVELOPER = re.compile(
    r"\bnull\b|\bunix\b|\bepoch\b|value error|\bnum_\w+|\(got |`|\.py\b"
    r"|(?<!\{)\b[a-z]+_[a-z_]+\b(?!\})|\b(?:notifications|tunnel|receiver|messages|alerts|numbers|ui)\.[a-z]",
    re.IGNORECASE,
)
NAMES = {"num_01JG7J005GFW1584": "Imobiliária Horizonte · +55 11 98449-2636", "num_2": "Loja Centro"}


def tomorrow_at_8() -> float:
    day = datetime.now().date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 8, 0).timestamp()


def visible_texts(root: QWidget) -> list[str]:
    """Every text a person sees in `root`: labels, buttons, lines (or their placeholder),
    combo items, list items."""
    out: list[str] = []
    for label in root.findChildren(QLabel):
        if label.isVisibleTo(root) and label.text():
            out.append(label.text())
    for button in root.findChildren(QAbstractButton):
        if button.isVisibleTo(root):
            out.append(button.text())
    for line in root.findChildren(QLineEdit):
        if line.isVisibleTo(root) and not isinstance(line.parent(), QComboBox):
            out.append(line.text() or line.placeholderText())
    for combo in root.findChildren(QComboBox):
        out += [combo.itemText(i) for i in range(combo.count())]
    for items in root.findChildren(QListWidget):
        out += [items.item(i).text() for i in range(items.count())]
    return out


def snoozy_config(data_dir: Path) -> Config:
    config = Config.open(resolve(data_dir))
    config.settings.update(
        {
            "notifications.muted": ["num_2", "num_gone"],
            "notifications.snoozed": {"num_01JG7J005GFW1584": tomorrow_at_8()},
        }
    )
    return config


def test_no_visible_text_in_the_dialog_holds_developer_words(data_dir: Path, qapp: object) -> None:
    config = snoozy_config(data_dir)
    dialog = SettingsDialog(config.settings, labels=lambda: dict(NAMES))
    try:
        dialog.rows["notifications.quiet_hours"].editor.set_value("25:99-xx")
        dialog.rows["tunnel.command"].editor.set_value("my-tunnel --no-port")
        assert dialog.apply() is False
        texts = visible_texts(dialog)
        bad = [t for t in texts if DEVELOPER.search(t)]
        assert bad == []
        # The refusal, in the dialog's words: what to type, and that empty means none.
        quiet = dialog.rows["notifications.quiet_hours"].error.text()
        assert "22:00-07:00" in quiet and "empty" in quiet.lower()
        assert "Quiet hours" in dialog.status.text()
        # The file's path is still there for whoever edits settings.json: in the tooltips.
        assert dialog.rows["notifications.quiet_hours"].label.toolTip() == "notifications.quiet_hours"
    finally:
        dialog.deleteLater()


def test_numbers_are_named_with_the_id_in_the_tooltip_and_snoozes_say_until_when(
    data_dir: Path, qapp: object
) -> None:
    config = snoozy_config(data_dir)
    dialog = SettingsDialog(config.settings, labels=lambda: dict(NAMES))
    try:
        muted = dialog.rows["notifications.muted"].editor.findChild(QListWidget)
        assert muted is not None
        items = {muted.item(i).text(): muted.item(i).toolTip() for i in range(muted.count())}
        assert items["Loja Centro"].endswith("num_2")
        assert items["Imobiliária Horizonte · +55 11 98449-2636"].endswith("num_01JG7J005GFW1584")
        unknown = [t for t, tip in items.items() if "num_gone" in tip]
        assert unknown == ["Unknown number"]
        snoozed = dialog.rows["notifications.snoozed"].editor
        shown = " ".join(w.text() for w in snoozed.findChildren(QLabel)).replace("\xa0", " ")
        assert "Imobiliária Horizonte" in shown and "until tomorrow 08:00" in shown
        assert "num_01JG7J005GFW1584" in snoozed.toolTip()
        assert dialog.rows["notifications.muted"].editor.value() == ["num_2", "num_gone"]
    finally:
        dialog.deleteLater()


def test_nothing_scrolls_sideways_or_is_cut_at_640_px(data_dir: Path, qapp: object) -> None:
    config = snoozy_config(data_dir)
    dialog = SettingsDialog(config.settings, labels=lambda: dict(NAMES))
    try:
        dialog.show()
        for width in (640, dialog.minimumWidth()):  # and at the narrowest it allows
            dialog.resize(width, 420)
            qapp.processEvents()  # type: ignore[attr-defined]
            for view in [dialog.area, *dialog.findChildren(QListWidget)]:
                assert isinstance(view, (QScrollArea, QListWidget))
                assert not view.horizontalScrollBar().isVisible(), view
            body = dialog.area.widget()  # its scroll bar is off: nothing cut on the right either
            assert body.minimumSizeHint().width() <= dialog.area.viewport().width(), width
    finally:
        dialog.close()
        dialog.deleteLater()


def test_until_words_read_as_clock_times() -> None:
    from pilot_desktop.ui.settings_dialog.editors import until_words

    now = datetime(2026, 12, 5, 9, 30)
    at = lambda d, h, m: datetime(2026, 12, d, h, m).timestamp()  # noqa: E731
    assert until_words(at(5, 15, 0), now) == "until 15:00"
    assert until_words(at(6, 8, 0), now) == "until tomorrow 08:00"
    assert until_words(at(9, 8, 0), now) == "until Wed 9 Dec 08:00"
    assert until_words(at(5, 9, 0), now) == "ended at 09:00"


def test_the_file_keeps_the_file_words() -> None:
    """A hand-edited settings.json is refused in the file's words ("null" is what to type)."""
    try:
        validate(SETTINGS, {"notifications": {"quiet_hours": "25:99"}}, None)
    except SettingsError as exc:
        assert "null" in str(exc) and "notifications.quiet_hours" in str(exc)
    else:
        raise AssertionError("accepted")
