"""Benchmark: ``ops backup``/``ops restore`` against the raw baselines, on the same data, in one run.

Datasets (``--sizes``, MiB): 1 KiB values, half random and half text, so the RDB compresses like
real data does rather than like zeros; ``--big-value`` adds a dataset of one incompressible value
of that many MiB (the worst case for memory: nothing shrinks, one object spans the stream).

* backup baseline: ``redis-cli --rdb`` to a file, then a boto3 ``upload_file`` (multipart, 10 threads);
* ours: ``python -m ops backup`` (diskless replication stream -> SHA-256 + redis-check-rdb + zstd ->
  multipart SSE-KMS upload);
* restore baselines: (a) boto3 ``download_file`` (ranged GETs) of the baseline's one object, (b) plain
  streaming ``get_object`` calls, one after the other, of the very objects ``ops backup`` stored (its
  segments, zstd-decompressed when it compressed them) to a file; each followed by a ``redis-server``
  started on that file, until it has loaded;
* ours: ``python -m ops restore --target-url`` into a running, empty ``redis-server``, verification
  (checksums, redis-check-rdb, key count) included.

The ratio is baseline time over ours (above 1 is faster), each the median of five alternating
runs; for the restore, ``ours / baseline (b)`` is printed as well (at most 1 is the target). Peak
memory is the highest resident set size of the ``ops`` process, and of it with every process it
started (redis-check-rdb ...), sampled every 20 ms.
The sources run with ``repl-diskless-sync-delay 0`` so that neither side waits for other replicas.
Results are printed and written to ``docs/capacity/backup-benchmark.json``, which the README's
table is checked against.

Run: ``make bench`` (or ``python -m bench.backup --sizes 1024 --big-value 300``). Needs redis-server,
redis-cli and redis-check-rdb.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
import redis
import zstandard
from moto.server import ThreadedMotoServer

from ops.runtime.backup_restore import free_port
from ops.runtime.backup_restore import start_redis_server as start_redis
from ops.runtime.backup_source import redis_info

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "capacity" / "backup-benchmark.json"
MIB = 1 << 20


def fill(port: int, size: int) -> int:
    """Write 1 KiB values (half random, half text) until Redis's dataset reaches ``size`` bytes."""
    client = redis.Redis(port=port)
    value_size, batch = 1024, 5000
    text = (b"redis-gateway session payload " * 40)[: value_size // 2]
    written = 0
    while int(redis_info(client, "memory")["used_memory_dataset"]) < size:
        pipe = client.pipeline(transaction=False)
        for i in range(written, written + batch):
            pipe.set(f"key:{i:09d}", os.urandom(value_size // 2) + text)
        pipe.execute()
        written += batch
    return int(redis_info(client, "memory")["used_memory_dataset"])


def fill_one_value(port: int, size: int) -> int:
    """One incompressible value of ``size`` bytes, written in 8 MiB appends."""
    client = redis.Redis(port=port)
    for _ in range(size // (8 * MIB)):
        client.append("big", os.urandom(8 * MIB))
    return int(redis_info(client, "memory")["used_memory_dataset"])


def timed(cmd: list[str]) -> tuple[float, int, int, str]:
    """Run ``cmd``; return (seconds, peak RSS of the process, peak RSS of it and its children, stdout).
    Output goes to files, not pipes: a child writing more than a pipe holds would block while this
    loop only samples memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = psutil.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        peak = tree = 0
        while proc.poll() is None:
            try:
                own = proc.memory_info().rss
                children = sum(c.memory_info().rss for c in proc.children(recursive=True))
            except psutil.NoSuchProcess:
                break
            peak, tree = max(peak, own), max(tree, own + children)
            time.sleep(0.02)
        proc.wait()  # the loop may leave when the process is gone but not yet reaped
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {err.read().decode(errors='replace')[-500:]}")
        return elapsed, peak, tree, out.read().decode()


def streaming_get(s3: Any, bucket: str, manifest: dict[str, Any], path: Path) -> None:
    """The backup's segments, one plain streaming ``get_object`` after the other, into ``path`` (through
    a zstd decompressor when the backup is compressed): what a restore must at least do."""
    with path.open("wb") as f:
        sink: Any = f
        if manifest["compression"] == "zstd":
            sink = zstandard.ZstdDecompressor().stream_writer(f, closefd=False)
        for n in range(1, manifest["object_segments"] + 1):
            body = s3.get_object(Bucket=bucket, Key=f"{manifest['object_key']}{n:06d}")["Body"]
            while chunk := body.read(8 * MIB):
                sink.write(chunk)
        sink.flush()


def _started(work: Path, rdb: Path) -> float:
    """Seconds until a redis-server started on ``rdb`` has loaded it."""
    start = time.perf_counter()
    proc, _ = start_redis(work, "--dbfilename", rdb.name, "--dir", str(rdb.parent))
    elapsed = time.perf_counter() - start
    proc.terminate()
    proc.wait()
    return elapsed


REPEAT = 5
"""Each side is timed five times and the median kept: moto's throughput varies from run to run."""


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run(name: str, filler: str, size_mib: int, bucket: str, work: Path) -> dict[str, float | str]:
    s3 = boto3.client("s3")
    data = work / f"src-{name}"
    data.mkdir()
    src, port = start_redis(data, "--repl-diskless-sync-delay", "0")
    prefix = f"bench-{name}/"
    try:
        dataset = (fill if filler == "values" else fill_one_value)(port, size_mib * MIB)
        rdb = work / "baseline.rdb"
        bases, ours, peaks = [], [], []
        for _ in range(REPEAT):  # alternating, so that neither side always meets a fuller moto
            cli = [shutil.which("redis-cli") or "/usr/bin/redis-cli", "-p", str(port), "--rdb", str(rdb)]
            t_dump, _, _, _ = timed(cli)
            start = time.perf_counter()
            s3.upload_file(str(rdb), bucket, f"baseline/{name}.rdb")
            bases.append(t_dump + time.perf_counter() - start)
            rdb_size = rdb.stat().st_size
            rdb.unlink()
            cmd = [sys.executable, "-m", "ops", "backup", "--redis-url", f"redis://127.0.0.1:{port}"]
            t_ours, peak, tree, out = timed([*cmd, "--bucket", bucket, "--prefix", prefix, "--json", "-"])
            ours.append(t_ours)
            peaks.append((peak, tree))
            manifest = json.loads(out)
        t_base, t_ours = median(bases), median(ours)
        peak, tree = max(p for p, _ in peaks), max(t for _, t in peaks)
    finally:
        src.terminate()
        src.wait()
    # restore baseline (a): download_file (ranged GETs, 10 threads), then a server started on the file
    restored = work / f"restored-{name}"
    restored.mkdir()
    start = time.perf_counter()
    s3.download_file(bucket, f"baseline/{name}.rdb", str(restored / "dump.rdb"))
    t_download = time.perf_counter() - start + _started(restored, restored / "dump.rdb")
    (restored / "dump.rdb").unlink()
    streams, restores, restore_peaks = [], [], []
    for i in range(REPEAT):
        # restore baseline (b): streaming GETs of the objects ours stored, then a server started on the file
        start = time.perf_counter()
        streaming_get(s3, bucket, manifest, restored / "dump.rdb")
        streams.append(time.perf_counter() - start + _started(restored, restored / "dump.rdb"))
        (restored / "dump.rdb").unlink()
        # ours: verified, into a running, empty server
        empty = work / f"empty-{name}-{i}"
        empty.mkdir()
        target, target_port = start_redis(empty)
        try:
            cmd = [sys.executable, "-m", "ops", "restore", "--bucket", bucket, "--prefix", prefix]
            t_restore, restore_peak, restore_tree, _ = timed(
                [*cmd, "--target-url", f"redis://127.0.0.1:{target_port}", "--work-dir", str(work), "--json", "-"]
            )
            restores.append(t_restore)
            restore_peaks.append((restore_peak, restore_tree))
        finally:
            target.terminate()
            target.wait()
        shutil.rmtree(empty)
    shutil.rmtree(restored)
    t_stream, t_ours_restore = median(streams), median(restores)
    restore_peak, restore_tree = max(p for p, _ in restore_peaks), max(t for _, t in restore_peaks)
    shutil.rmtree(data)
    return {
        "dataset": name,
        "dataset_mib": round(dataset / MIB, 1),
        "rdb_mib": round(rdb_size / MIB, 1),
        "compressed_mib": round(manifest["object_size"] / MIB, 1),
        "keys": manifest["key_count"],
        "backup_baseline_s": round(t_base, 2),
        "backup_ours_s": round(t_ours, 2),
        "backup_ratio": round(t_base / t_ours, 2),
        "restore_download_file_s": round(t_download, 2),
        "restore_streaming_get_s": round(t_stream, 2),
        "restore_ours_s": round(t_ours_restore, 2),
        "restore_ratio_download_file": round(t_download / t_ours_restore, 2),
        "restore_ratio_streaming_get": round(t_stream / t_ours_restore, 2),
        "restore_time_over_baseline": round(t_ours_restore / t_stream, 2),
        "backup_peak_rss_mib": round(peak / MIB, 1),
        "backup_peak_rss_with_children_mib": round(tree / MIB, 1),
        "restore_peak_rss_mib": round(restore_peak / MIB, 1),
        "restore_peak_rss_with_children_mib": round(restore_tree / MIB, 1),
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The README's benchmark table, from the rows a run wrote (a test keeps the two in step)."""
    lines = [
        "| dataset | RDB | stored | backup: `redis-cli --rdb` + `upload_file` | `ops backup` | ratio "
        "| restore: streaming GET + start | ranged `download_file` + start | `ops restore --target-url URL` "
        "| ratio (streaming GET) | peak RSS backup / restore, with children |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['rdb_mib']:.0f} MiB | {r['compressed_mib']:.0f} MiB "
            f"| {r['backup_baseline_s']:.2f} s | {r['backup_ours_s']:.2f} s | {r['backup_ratio']:.2f}x "
            f"| {r['restore_streaming_get_s']:.2f} s | {r['restore_download_file_s']:.2f} s "
            f"| {r['restore_ours_s']:.2f} s | {r['restore_ratio_streaming_get']:.2f}x "
            f"| {r['backup_peak_rss_with_children_mib']:.0f} / {r['restore_peak_rss_with_children_mib']:.0f} MiB |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024", help="datasets of 1 KiB values, sizes in MiB, comma-separated")
    parser.add_argument("--big-value", type=int, default=300, help="a dataset of one incompressible value (MiB)")
    parser.add_argument("--no-save", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    for tool in ("redis-server", "redis-cli", "redis-check-rdb"):
        if shutil.which(tool) is None:
            print(f"{tool} is required (apt-get install redis-server redis-tools)", file=sys.stderr)
            return 2
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts any credentials
        AWS_REGION="eu-west-1",
        AWS_DEFAULT_REGION="eu-west-1",
    )
    boto3.client("s3").create_bucket(
        Bucket="bench-backups", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    plan = [(f"values-{s}MiB", "values", int(s)) for s in args.sizes.split(",") if s]
    if args.big_value:
        plan.append((f"one-value-{args.big_value}MiB", "one-value", args.big_value))
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, filler, size in plan:
                rows.append(run(name, filler, size, "bench-backups", Path(tmp)))
    finally:
        moto.stop()
    print(
        f"{'dataset':<20} {'rdb':>7} {'zstd':>7} | {'backup base':>11} {'ours':>6} {'ratio':>6} | "
        f"{'GET+start':>9} {'ranged+start':>12} {'ours':>6} {'ratio':>6} {'ours/GET':>8} | "
        f"{'tree RSS backup':>15} {'restore':>8}"
    )
    for r in rows:
        print(
            f"{r['dataset']:<20} {r['rdb_mib']:>5.0f}Mi {r['compressed_mib']:>5.0f}Mi | "
            f"{r['backup_baseline_s']:>10.2f}s {r['backup_ours_s']:>5.2f}s {r['backup_ratio']:>5.2f}x | "
            f"{r['restore_streaming_get_s']:>8.2f}s {r['restore_download_file_s']:>11.2f}s "
            f"{r['restore_ours_s']:>5.2f}s {r['restore_ratio_streaming_get']:>5.2f}x "
            f"{r['restore_time_over_baseline']:>7.2f}x | "
            f"{r['backup_peak_rss_with_children_mib']:>12.0f}MiB {r['restore_peak_rss_with_children_mib']:>5.0f}MiB"
        )
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        RESULTS.write_text(
            json.dumps({"measured_at": stamp, "machine": f"{os.cpu_count()} cores", "rows": rows}, indent=2) + "\n"
        )
        print(f"wrote {RESULTS.relative_to(ROOT)}; the README table:")
        print(markdown_table(rows), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
