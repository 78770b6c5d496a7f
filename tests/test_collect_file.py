"""The file source reads only what was appended since the scan started, across rotation."""

from __future__ import annotations

import os

from mtlsaudit.collect import Collector, open_source


def test_reads_only_new_lines_and_keeps_partial_lines(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("old line\n")
    src = open_source(f"file:{log}")
    src.start()
    with log.open("a") as fh:
        fh.write("new 1\nnew 2 partial")
    assert src.read_new() == ["new 1"]
    with log.open("a") as fh:
        fh.write(" done\n")
    assert src.read_new() == ["new 2 partial done"]
    src.close()


def test_rotation_reads_rest_of_old_file_then_new_file(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("before\n")
    src = open_source(f"file:{log}")
    src.start()
    with log.open("a") as fh:
        fh.write("tail of old\n")
    os.rename(log, tmp_path / "a.log.1")  # logrotate: move, then create
    log.write_text("head of new\n")
    assert src.read_new() == ["tail of old", "head of new"]
    src.close()


def test_truncation_restarts_at_zero(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("x" * 100 + "\n")
    src = open_source(f"file:{log}")
    src.start()
    log.write_text("after truncate\n")  # copytruncate: same inode, shorter
    assert src.read_new() == ["after truncate"]
    src.close()


def test_collector_stamps_and_flushes_unfinished_line(tmp_path):
    log = tmp_path / "a.log"
    log.touch()
    collector = Collector([open_source(f"file:{log}")])
    collector.start()
    log.write_text("complete\nno newline at end")
    collector.poll()
    # "complete" is held back: the next line could still continue it (a traceback).
    assert [r.line for r in collector.records] == []
    collector.poll(final=True)
    assert [r.line for r in collector.records] == ["complete", "no newline at end"]
    assert all(r.source == f"file:{log}" for r in collector.records)
    collector.close()


# What socketserver.BaseServer.handle_error prints when a handshake fails in a worker thread.
PY_TRACEBACK = """----------------------------------------
Exception occurred during processing of request from ('127.0.0.1', 53412)
Traceback (most recent call last):
  File "/usr/lib/python3.11/socketserver.py", line 691, in process_request_thread
    self.finish_request(request, client_address)
  File "/usr/lib/python3.11/ssl.py", line 1346, in do_handshake
    self._sslobj.do_handshake()
ssl.SSLError: [SSL: TLSV1_ALERT_UNKNOWN_CA] certificate verify failed: certificate has expired (_ssl.c:1006)
----------------------------------------
127.0.0.1 - - [03/Dec/2026 16:41:40] "GET / HTTP/1.1" 200 -
"""

# Node: console.error(err) in a tlsClientError listener.
NODE_ERROR = """Error: 80DC635FAC7F0000:error:0A0000C7:SSL routines:tls_process_client_certificate:peer \
did not return a certificate
    at TLSSocket.onhandshakeerror (node:_tls_wrap:1000:12) {
  library: 'SSL routines',
  reason: 'peer did not return a certificate',
  code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'
}
2026-12-03T15:41:30.736Z next record
"""


def test_multi_line_records_are_joined(tmp_path):
    for sample, expected in (
        (PY_TRACEBACK, 4),  # dashes, the traceback record, dashes, the access line
        (NODE_ERROR, 2),
    ):
        log = tmp_path / "m.log"
        log.write_text("")
        collector = Collector([open_source(f"file:{log}")])
        collector.start()
        with log.open("a") as f:
            f.write(sample)
        collector.poll()
        collector.poll(final=True)
        lines = [r.line for r in collector.records]
        assert len(lines) == expected, lines
        joined = next(line for line in lines if "\n" in line)
        if sample is PY_TRACEBACK:
            assert joined.startswith("Exception occurred during processing of request from ('127.0.0.1', 53412)")
            assert joined.endswith("certificate has expired (_ssl.c:1006)")
        else:
            assert joined.endswith("}") and "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE" in joined
        collector.close()


def test_a_line_after_a_traceback_that_is_not_an_exception_starts_a_new_record():
    from mtlsaudit.collect.base import continues

    tb = 'boom\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>'
    assert continues("ValueError: bad", tb)
    assert not continues("2026-12-03 16:00:00 INFO next", tb)
    assert not continues("ValueError: bad", "plain line")
