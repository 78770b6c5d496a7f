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
    assert [r.line for r in collector.records] == ["complete"]
    collector.poll(final=True)
    assert [r.line for r in collector.records] == ["complete", "no newline at end"]
    assert all(r.source == f"file:{log}" for r in collector.records)
    collector.close()
