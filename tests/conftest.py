"""Session fixtures: one test PKI, and each real server started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mtlsaudit.remediate import remedy
from servers import RunningServer, TestPki, start_nginx


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def nginx_default(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_nginx("default", pki, tmp_path_factory.mktemp("nginx-default"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nginx_hardened(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    snippet = remedy("nginx").snippet()
    server = start_nginx("default", pki, tmp_path_factory.mktemp("nginx-hardened"), snippet)
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from test_matrix import SUMMARY

    if SUMMARY:
        terminalreporter.section("real-server matrix")
        for line in SUMMARY:
            terminalreporter.write_line(line)
