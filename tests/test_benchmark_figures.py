"""The README's backup figures come from the last `make bench` run (docs/capacity/backup-benchmark.json),
and the numbers the prose states are the ones the code uses."""

from __future__ import annotations

import json

from bench.backup import RESULTS, markdown_table
from ops.offline.engine import ROOT
from ops.runtime import backups, rdbcheck

README = (ROOT / "README.md").read_text()


def test_the_readme_table_is_the_recorded_run() -> None:
    rows = json.loads(RESULTS.read_text())["rows"]
    assert {r["dataset"] for r in rows} >= {"values-1024MiB", "one-value-300MiB"}
    assert markdown_table(rows) in README


def test_the_recorded_run_holds_the_backup_targets() -> None:
    for row in json.loads(RESULTS.read_text())["rows"]:
        assert row["backup_ratio"] >= 1.0, row
        # every process a job starts counts (redis-check-rdb, ...), against a 512Mi pod limit
        assert row["backup_peak_rss_with_children_mib"] < 200, row
        assert row["restore_peak_rss_with_children_mib"] < 200, row
        # a verified restore is no slower than plain streaming GETs of the same objects plus a server start
        assert row["restore_time_over_baseline"] <= 1.0, row


def test_the_prose_states_the_constants_in_force() -> None:
    assert backups.SEGMENT_SIZE == 8 << 20 and "8 MiB segments" in README
    assert f"{backups.MAX_IN_FLIGHT} in flight" in README
    assert backups.SAMPLE_SIZE == 4 << 20 and backups.WORTH_COMPRESSING == 0.85
    assert "first 4 MiB" in README and "85%" in README
    assert rdbcheck._BACKLOG == 16


def test_the_readme_generator_table_is_the_recorded_run_and_met_its_targets() -> None:
    from bench.http_generator import RESULTS as HTTP_RESULTS
    from bench.http_generator import markdown_table as http_table

    doc = json.loads(HTTP_RESULTS.read_text())
    assert http_table(doc) in README
    for row in doc["rates"]:
        if row["rate"] <= 2000:
            assert abs(row["ratio"] - 1) <= 0.05, row
    assert max(r["rate"] for r in doc["rates"]) >= 2000
    assert doc["latency"]["p99_error"] <= 0.10
