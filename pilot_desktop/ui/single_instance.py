"""One window per data folder: a second launch asks the first to come to the front.

The first launch listens on a local socket (a Unix socket, a named pipe on Windows) whose
name is derived from the user and the data folder, so two profiles (two `--data-dir`) run
side by side. A later launch on the same folder connects, sends `raise`, waits for the
`ok`, and exits. A socket file left by a crashed instance answers nobody: it is removed
and the new launch becomes the instance. A lock file around check-then-listen keeps two
simultaneous launches from both becoming it.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

TIMEOUT_MS = 1500
_RAISE, _OK = b"raise\n", b"ok\n"


def server_name(data_dir: Path) -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no user name (some containers): the folder alone
        user = ""
    key = f"{user}\0{data_dir.resolve()}"
    return "pilot-desktop-" + hashlib.sha256(key.encode()).hexdigest()[:20]


class SingleInstance(QObject):
    raise_requested = Signal()

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.name = server_name(data_dir)
        self.requests = 0  # raise requests received (one may come before the window exists)
        self.answered = True  # after claim() lost: whether the running instance answered
        self._server: QLocalServer | None = None

    def claim(self) -> bool:
        """True: this process is now the instance. False: another one runs on this data
        folder and was asked to raise its window (`answered` says whether it confirmed)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = QLockFile(str(self.data_dir / ".instance.lock"))
        lock.setStaleLockTime(10_000)
        locked = lock.tryLock(3 * TIMEOUT_MS)  # a dead holder's lock is taken over (by its pid)
        try:
            if self._ask_running():
                return False
            QLocalServer.removeServer(self.name)  # a crashed instance's socket file, if any
            server = QLocalServer(self)
            server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
            if not server.listen(self.name):
                log.warning("single instance: cannot listen as %s (%s); running without", self.name,
                            server.errorString())  # fmt: skip
                return True
            server.newConnection.connect(self._on_connection)
            self._server = server
            log.info("single instance: listening as %s", self.name)
            return True
        finally:
            if locked:
                lock.unlock()

    def _ask_running(self) -> bool:
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(TIMEOUT_MS):
            return False  # nobody listens (none, or a dead instance's socket file)
        sock.write(_RAISE)
        sock.waitForBytesWritten(TIMEOUT_MS)
        self.answered = False
        while sock.waitForReadyRead(TIMEOUT_MS):
            if bytes(sock.readAll().data()).endswith(_OK):
                self.answered = True
                break
        sock.disconnectFromServer()
        return True

    def _on_connection(self) -> None:
        assert self._server is not None
        while (sock := self._server.nextPendingConnection()) is not None:
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(sock.deleteLater)
            self._read(sock)

    def _read(self, sock: QLocalSocket) -> None:
        while sock.canReadLine():
            line = bytes(sock.readLine().data())
            if line == _RAISE:
                self.requests += 1
                log.info("single instance: raise requested by a second launch")
                sock.write(_OK)
                sock.flush()
                self.raise_requested.emit()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()  # removes the socket file
            self._server.deleteLater()
            self._server = None
