"""Create or edit one webhook: name, URL, events from grouped checkboxes, signing secret.

What the dialog shows is what Save does: "All events" shows every box ticked (greyed) and
unticking it gives back the boxes as they were before it was ticked (everything, when there
was no other choice); the secret field says whether a secret is stored and what Save does
with it (keep, replace, forget, store none); a URL at this app's address with another token
is warned about as it is typed. The body scrolls, so the dialog fits a 640x420 window."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
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
from pilot_desktop.core.format import number_label
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.webhook_admin import Located, WebhookAdmin
from pilot_desktop.services.webhooks import events_warnings
from pilot_desktop.ui.look import AMBER, GREEN, RED, fit_to_window, hint_label, tint
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

HELP_TEXT = (
    "Pilot Status signs every delivery with this webhook's secret, and never shows the secret "
    "again through its API. Copy it from the dashboard (Webhooks page, the webhook's details) "
    "right after creating the webhook. It is kept in {store}, never in the settings or the "
    "database."
)
DEMO_AUTOFILL_NOTE = "Demo: left empty, the sandbox's secret for the new webhook is filled in for you."
# What Save does with the secret, said under the field (secret_plan() names the case).
PLAN_WORDS = {
    "keep": "A secret is stored. Save keeps it; paste another to replace it.",
    "replace": "Save replaces the stored secret with the one typed.",
    "forget": "Save forgets the stored secret: deliveries are then accepted unverified (unless "
    "another webhook's secret checks the same address).",
    "store": "Save stores this secret; deliveries to this app are then checked with it.",
    "none": "No secret is stored: deliveries to this app are accepted unverified. Paste it to "
    "have them checked.",
    "none-new": "No secret yet: paste it once the webhook exists, or leave empty to accept "
    "deliveries unverified.",
    "none-demo": DEMO_AUTOFILL_NOTE,
}
PLACEHOLDER = {
    "stored": "stored ✓ (leave empty to keep it)",
    "none": "none stored: paste the signing secret",
    "forget": "the stored secret is forgotten on Save",
}
FOREIGN_URL = (
    "⚠ This URL is this app's address with another token ({token}…): the receiver refuses "
    "its deliveries (404). Use this app's URL to receive them here."
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
        foreign: Callable[[str], str | None] = lambda url: None,
    ) -> None:
        """`foreign(url)`: the other token of a URL at this app's address, else None."""
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
        self._foreign = foreign
        self.url_warning = QLabel()
        self.url_warning.setObjectName("urlWarning")
        self.url_warning.setWordWrap(True)
        self.url_warning.setStyleSheet(tint(self.url_warning, RED))
        self.url.textChanged.connect(self._check_url)
        self.active = QCheckBox("Active (deliveries on; untick to pause)")
        self.active.setChecked(webhook.active if webhook else True)

        chosen = set(webhook.events) if webhook else {ALL_EVENTS}
        self.all_events = QCheckBox("All events (*) — includes number health alerts and events added later")
        self.all_events.setChecked(ALL_EVENTS in chosen)
        # The boxes as picked while "All events" is off; given back when it is unticked.
        self.picked = {e for e in chosen if e != ALL_EVENTS}
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
                hint = hint_label(f"{line}. {RAW_NOTE}" if name in RAW_EVENTS else line, "margin-left: 22px;")
                hint.setObjectName(f"hint:{name}")
                col.addWidget(hint)
                check.toggled.connect(self._refresh)
                self.boxes[name] = check
            grid.addWidget(box, i // 2, i % 2)
        self.all_events.toggled.connect(self._all_toggled)
        # Names this app does not list (kept when editing, so nothing is dropped silently).
        self.others = [e for e in chosen if e != ALL_EVENTS and e not in self.boxes]
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(groups)
        scroll.setMinimumHeight(150)
        self.events_warning = QLabel()
        self.events_warning.setWordWrap(True)
        self.events_warning.setObjectName("eventsWarning")

        self.has_secret, self.is_new, self.autofill = has_secret, webhook is None, autofill_note
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.textChanged.connect(self._show_secret)
        self.forget = QCheckBox("Forget the stored secret")
        self.forget.setVisible(has_secret)
        self.forget.toggled.connect(self._show_secret)
        self.secret_state = QLabel()
        self.secret_state.setObjectName("secretState")
        self.secret_state.setWordWrap(True)
        # The demo's note is said once, by the state line (while the field is empty).
        secret_help = hint_label(HELP_TEXT.format(store=store_name))

        form = QFormLayout()
        form.addRow("Number", QLabel(number_label))
        form.addRow("Name", self.name)
        form.addRow("URL", url_row)
        form.addRow("", self.url_warning)
        form.addRow("", self.active)
        self.strip = StatusStrip()
        self.buttons = QDialogButtonBox(_BUTTON.Save | _BUTTON.Cancel)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        body = QWidget()
        col = QVBoxLayout(body)
        col.addLayout(form)
        col.addWidget(QLabel("<b>Events</b>"))
        col.addWidget(self.all_events)
        col.addWidget(scroll, 1)
        col.addWidget(self.events_warning)
        col.addWidget(QLabel("<b>Signing secret</b>"))
        col.addWidget(self.secret)
        col.addWidget(self.forget)
        col.addWidget(self.secret_state)
        col.addWidget(secret_help)
        # The whole body scrolls in a short window; the strip and the buttons stay in view.
        outer = QScrollArea()
        outer.setWidgetResizable(True)
        outer.setFrameShape(QFrame.Shape.NoFrame)
        outer.setWidget(body)
        main = QVBoxLayout(self)
        main.addWidget(outer, 1)
        main.addWidget(self.strip)
        main.addWidget(self.buttons)
        fit_to_window(self, parent, 720, 760)
        if self.all_events.isChecked():
            self._all_toggled(True)
        else:
            self._refresh()  # the boxes as the webhook has them, an empty list too
        self._show_secret()
        self._check_url()

    def _use_url(self, url: str) -> None:
        self.url.setText(url)
        self.url.setCursorPosition(0)

    def _check_url(self) -> None:
        token = self._foreign(self.url.text().strip())
        self.url_warning.setText(FOREIGN_URL.format(token=token[:6]) if token is not None else "")
        self.url_warning.setVisible(token is not None)

    def events(self) -> list[str]:
        if self.all_events.isChecked():
            return [ALL_EVENTS]
        return [name for name, box in self.boxes.items() if box.isChecked()] + self.others

    def _all_toggled(self, everything: bool) -> None:
        """Ticked: every box shown ticked (all are delivered), the picks kept aside. Unticked:
        the picks back, or every box when nothing was picked (never silently nothing)."""
        for name, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(everything or not self.picked or name in self.picked)
            box.setEnabled(not everything)
            box.blockSignals(False)
        self._refresh()

    def _refresh(self) -> None:
        if not self.all_events.isChecked():
            self.picked = {name for name, box in self.boxes.items() if box.isChecked()}
        warnings = events_warnings(self.events())
        self.events_warning.setText("\n".join(f"⚠ {w}" for w in warnings))
        empty = not self.events()
        self.events_warning.setStyleSheet(
            tint(self.events_warning, RED if empty else AMBER, "font-weight: bold;" if empty else "")
        )
        self.events_warning.setVisible(bool(warnings))

    def secret_plan(self) -> str:
        """What Save does with the secret: "keep", "replace", "forget", "store" or "none"."""
        typed = bool(self.secret.text().strip())
        if self.has_secret:
            return "forget" if self.forget.isChecked() else "replace" if typed else "keep"
        return "store" if typed else "none"

    def _show_secret(self) -> None:
        forgetting = self.has_secret and self.forget.isChecked()
        if forgetting and self.secret.text():
            self.secret.clear()  # a secret typed and then "forget" ticked: forget wins, seen so
        self.secret.setEnabled(not forgetting)
        key = "forget" if forgetting else "stored" if self.has_secret else "none"
        self.secret.setPlaceholderText(PLACEHOLDER[key])
        plan = self.secret_plan()
        case = plan
        if plan == "none" and self.is_new:
            case = "none-demo" if self.autofill else "none-new"
        said = self.autofill if case == "none-demo" else PLAN_WORDS[case]
        self.secret_state.setText(said)
        self.secret_state.setStyleSheet(
            tint(self.secret_state, AMBER if plan in ("forget", "none") else GREEN)
        )

    def edit(self) -> Edit:
        secret = self.secret.text().strip() or None
        return Edit(
            name=self.name.text().strip(),
            url=self.url.text().strip(),
            events=self.events(),
            active=self.active.isChecked(),
            secret=secret,
            forget_secret=self.has_secret and self.forget.isChecked(),
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


def editor_for(
    parent: QWidget,
    admin: WebhookAdmin,
    *,
    title: str,
    number: str,
    hook: Located | None,
    save: Callable[[Edit], Awaitable[None]],
    foreign: Callable[[str], str | None],
) -> WebhookEditor:
    """The editor of `hook`'s webhook, or of a new one of `number` (hook None)."""
    number_id, webhook = number, (hook.hook if hook is not None else None)
    target = admin.target()
    editor = WebhookEditor(
        parent,
        title=title,
        number_label=number_label(number_id, admin.names()),
        default_url=target.url_for(number_id) if target else None,
        save=save,
        store_name=admin.accounts.secrets.backend,
        webhook=webhook,
        has_secret=webhook is not None and admin.signing.has(webhook.id),
        autofill_note=DEMO_AUTOFILL_NOTE if webhook is None and admin.demo_secret is not None else "",
        foreign=foreign,
    )
    if target is None and webhook is None:
        editor.strip.warn("No public URL is set (the Tunnel tab), so the URL must be typed in.")
    return editor
