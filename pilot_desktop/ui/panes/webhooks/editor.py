"""Create or edit one webhook: name, URL, events from grouped checkboxes, signing secret."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Webhook
from pilot_desktop.core.catalogue import ALL_EVENTS, PICKER_GROUPS, RAW_EVENTS, RAW_NOTE
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.webhooks import events_warnings
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

HELP_TEXT = (
    "Pilot Status signs every delivery with this webhook's secret, and never shows the secret "
    "again through its API. Copy it from the dashboard (Webhooks page, the webhook's details) "
    "right after creating the webhook. It is kept in {store}, never in the settings or the "
    "database. Leave empty to keep the stored one."
)


@dataclass(frozen=True)
class Edit:
    name: str
    url: str
    events: list[str]
    active: bool
    secret: str | None  # None: keep what is stored
    forget_secret: bool


_BUTTON = QDialogButtonBox.StandardButton


class WebhookEditor(QDialog):
    def __init__(
        self,
        parent: QWidget | None,
        *,
        title: str,
        number_label: str,
        default_url: str | None,
        save: Callable[[Edit], Awaitable[None]],
        store_name: str,
        webhook: Webhook | None = None,
        has_secret: bool = False,
        autofill_note: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self._save = save
        self._tasks = Tasks()
        self.name = QLineEdit(webhook.name if webhook else "Pilot Desktop")
        self.url = QLineEdit(webhook.url if webhook else (default_url or ""))
        self.url.setPlaceholderText("https://your-tunnel.example/hooks/…")
        self.url.setCursorPosition(0)  # the host first: the end is a token and an id
        use_here = QPushButton("Use this app's URL")
        use_here.setEnabled(bool(default_url))
        use_here.clicked.connect(lambda: self._use_url(default_url or ""))
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(use_here)
        self.active = QCheckBox("Active (deliveries on; untick to pause)")
        self.active.setChecked(webhook.active if webhook else True)

        chosen = set(webhook.events) if webhook else {ALL_EVENTS}
        self.all_events = QCheckBox("All events (*) — includes number health alerts and events added later")
        self.all_events.setChecked(ALL_EVENTS in chosen)
        self.boxes: dict[str, QCheckBox] = {}
        groups = QWidget()
        grid = QGridLayout(groups)
        for i, (title_text, events) in enumerate(PICKER_GROUPS):
            box = QGroupBox(title_text)
            col = QVBoxLayout(box)
            for name, line in events:
                check = QCheckBox(f"{name} (raw Meta)" if name in RAW_EVENTS else name)
                check.setToolTip(f"{line}. {RAW_NOTE}" if name in RAW_EVENTS else line)
                check.setChecked(name in chosen)
                col.addWidget(check)
                hint = QLabel(f"{line}. {RAW_NOTE}" if name in RAW_EVENTS else line)
                hint.setObjectName(f"hint:{name}")
                hint.setStyleSheet("color: palette(mid); margin-left: 22px;")
                hint.setWordWrap(True)
                col.addWidget(hint)
                check.toggled.connect(self._refresh)
                self.boxes[name] = check
            grid.addWidget(box, i // 2, i % 2)
        self.all_events.toggled.connect(self._refresh)
        # Names this app does not list (kept when editing, so nothing is dropped silently).
        self.others = [e for e in chosen if e != ALL_EVENTS and e not in self.boxes]
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(groups)
        scroll.setMinimumHeight(280)
        self.events_warning = QLabel()
        self.events_warning.setWordWrap(True)
        self.events_warning.setObjectName("eventsWarning")

        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        placeholder = "stored ✓ (leave empty to keep)" if has_secret else "paste the signing secret"
        self.secret.setPlaceholderText(placeholder)
        self.forget = QCheckBox("Forget the stored secret")
        self.forget.setVisible(has_secret)
        text = HELP_TEXT.format(store=store_name)
        if autofill_note:
            text += " " + autofill_note
        secret_help = QLabel(text)
        secret_help.setWordWrap(True)
        secret_help.setStyleSheet("color: palette(mid);")

        form = QFormLayout()
        form.addRow("Number", QLabel(number_label))
        form.addRow("Name", self.name)
        form.addRow("URL", url_row)
        form.addRow("", self.active)
        self.strip = StatusStrip()
        self.buttons = QDialogButtonBox(_BUTTON.Save | _BUTTON.Cancel)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        col = QVBoxLayout(self)
        col.addLayout(form)
        col.addWidget(QLabel("<b>Events</b>"))
        col.addWidget(self.all_events)
        col.addWidget(scroll, 1)
        col.addWidget(self.events_warning)
        col.addWidget(QLabel("<b>Signing secret</b>"))
        col.addWidget(self.secret)
        col.addWidget(self.forget)
        col.addWidget(secret_help)
        col.addWidget(self.strip)
        col.addWidget(self.buttons)
        self.resize(720, 760)
        self._refresh()

    def _use_url(self, url: str) -> None:
        self.url.setText(url)
        self.url.setCursorPosition(0)

    def events(self) -> list[str]:
        if self.all_events.isChecked():
            return [ALL_EVENTS]
        return [name for name, box in self.boxes.items() if box.isChecked()] + self.others

    def _refresh(self) -> None:
        everything = self.all_events.isChecked()
        for box in self.boxes.values():
            box.setEnabled(not everything)
        warnings = events_warnings(self.events())
        self.events_warning.setText("\n".join(f"⚠ {w}" for w in warnings))
        empty = not self.events()
        style = "color: #c53030; font-weight: bold;" if empty else "color: #975a16;"
        self.events_warning.setStyleSheet(style)
        self.events_warning.setVisible(bool(warnings))

    def edit(self) -> Edit:
        secret = self.secret.text().strip() or None
        return Edit(
            name=self.name.text().strip(),
            url=self.url.text().strip(),
            events=self.events(),
            active=self.active.isChecked(),
            secret=secret,
            forget_secret=self.forget.isChecked() and secret is None,
        )

    def _on_save(self) -> None:
        if self._tasks.busy:
            return
        if not self.url.text().strip():
            self.strip.error("Enter the URL Pilot Status should deliver to (Use this app's URL fills it in).")
            return
        self._tasks.start(self._run(self.edit()))

    async def _run(self, edit: Edit) -> None:
        self.buttons.setEnabled(False)
        self.strip.working("Saving…")
        try:
            await self._save(edit)
        except (ApiError, AccountError, SecretsError) as exc:
            self.strip.error(exc)  # shown in place, with its code; the dialog stays open
            return
        finally:
            self.buttons.setEnabled(True)
        self.strip.clear()
        self.accept()

    async def settled(self) -> None:
        await self._tasks.settled()
