"""Fixtures that run the real `pilot-desktop serve` process (loopback, temporary data dir)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.serving import Server, ServerPool


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: `serve("--signing-secret", "s", data_dir=...)` starts a server and returns it
    once it printed `Listening:`. At teardown every server still running gets SIGTERM and
    must exit 0 (the drain works); one that hangs is killed and fails the test."""
    pool = ServerPool(tmp_path)
    yield pool.start
    problems = pool.close()
    assert not problems, "\n\n".join(problems)


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    """One server with default settings (no signing secret)."""
    return serve()
