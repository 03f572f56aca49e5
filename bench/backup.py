"""Benchmark: ``ops backup``/``ops restore`` against the raw baseline, on the same data, in one run.

For each dataset size (default 256 MiB and 1 GiB of values, half random and half text, so the RDB
compresses like real data does rather than like zeros):

* baseline backup: ``redis-cli --rdb`` to a file, then a boto3 ``upload_file`` (multipart, 10 threads);
* ours: ``python -m ops backup`` (replication stream -> SHA-256 -> zstd -> multipart SSE-KMS upload);
* baseline restore: boto3 ``download_file``, then a ``redis-server`` started on that file, until loaded;
* ours: ``python -m ops restore --target-url`` into a running, empty ``redis-server`` (verification included).

Throughput is RDB bytes per second; the ratio is ours over the baseline (above 1 is faster). Peak
memory is the highest resident set size of the ``ops backup`` process, sampled every 20 ms.

Run: ``make bench`` (or ``python -m bench.backup --sizes 256,1024``). Needs redis-server, redis-cli.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import boto3
import psutil
import redis
from moto.server import ThreadedMotoServer

from ops.runtime.backups import free_port, redis_info
from ops.runtime.backups import start_redis_server as start_redis

ROOT = Path(__file__).resolve().parent.parent
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


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run ``cmd``; return (seconds, peak RSS bytes, stdout). Output goes to files, not pipes: a
    child writing more than a pipe holds would block while this loop only samples memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = psutil.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=ROOT)
        peak = 0
        while proc.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:4]} failed: {err.read().decode(errors='replace')[-500:]}")
        return elapsed, peak, out.read().decode()


def run(size_mib: int, bucket: str, work: Path) -> dict[str, float]:
    s3 = boto3.client("s3")
    data = work / f"src-{size_mib}"
    data.mkdir()
    # No diskless-sync delay: redis-cli --rdb would otherwise wait 5 s for other replicas to join.
    src, port = start_redis(data, "--repl-diskless-sync-delay", "0")
    try:
        dataset = fill(port, size_mib * MIB)
        # baseline backup: redis-cli --rdb, then boto3 upload
        rdb = work / "baseline.rdb"
        t_dump, _, _ = timed([shutil.which("redis-cli") or "/usr/bin/redis-cli", "-p", str(port), "--rdb", str(rdb)])
        start = time.perf_counter()
        s3.upload_file(str(rdb), bucket, f"baseline/{size_mib}.rdb")
        t_base = t_dump + time.perf_counter() - start
        rdb_size = rdb.stat().st_size
        # ours
        t_ours, peak, out = timed(
            [
                sys.executable,
                "-m",
                "ops",
                "backup",
                "--redis-url",
                f"redis://127.0.0.1:{port}",
                "--bucket",
                bucket,
                "--prefix",
                f"bench-{size_mib}/",
                "--json",
            ]
        )
        manifest = json.loads(out)
    finally:
        src.terminate()
        src.wait()
    # baseline restore: download, then start a server on the file
    restored = work / f"restored-{size_mib}"
    restored.mkdir()
    start = time.perf_counter()
    s3.download_file(bucket, f"baseline/{size_mib}.rdb", str(restored / "dump.rdb"))
    proc, _ = start_redis(restored, "--dbfilename", "dump.rdb")
    t_base_restore = time.perf_counter() - start
    proc.terminate()
    proc.wait()
    # ours: into a running, empty server
    empty = work / f"empty-{size_mib}"
    empty.mkdir()
    target, target_port = start_redis(empty)
    try:
        t_ours_restore, _, _ = timed(
            [
                sys.executable,
                "-m",
                "ops",
                "restore",
                "--bucket",
                bucket,
                "--prefix",
                f"bench-{size_mib}/",
                "--target-url",
                f"redis://127.0.0.1:{target_port}",
                "--work-dir",
                str(work),
                "--json",
            ]
        )
    finally:
        target.terminate()
        target.wait()
    rdb.unlink()
    shutil.rmtree(restored)
    return {
        "size_mib": size_mib,
        "dataset_mib": dataset / MIB,
        "rdb_mib": rdb_size / MIB,
        "compressed_mib": manifest["object_size"] / MIB,
        "backup_baseline_s": t_base,
        "backup_ours_s": t_ours,
        "backup_ratio": t_base / t_ours,
        "restore_baseline_s": t_base_restore,
        "restore_ours_s": t_ours_restore,
        "restore_ratio": t_base_restore / t_ours_restore,
        "backup_peak_rss_mib": peak / MIB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024", help="dataset sizes in MiB, comma-separated")
    args = parser.parse_args()
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            print(f"{tool} is required (apt-get install redis-server)", file=sys.stderr)
            return 2
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
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for size in (int(s) for s in args.sizes.split(",")):
                rows.append(run(size, "bench-backups", Path(tmp)))
    finally:
        moto.stop()
    print(
        f"{'dataset':>8} {'rdb':>8} {'zstd':>8} | {'backup base':>11} {'ours':>7} {'ratio':>6} | "
        f"{'restore base':>12} {'ours':>7} {'ratio':>6} | {'peak RSS':>9}"
    )
    for r in rows:
        print(
            f"{r['dataset_mib']:>6.0f}Mi {r['rdb_mib']:>6.0f}Mi {r['compressed_mib']:>6.0f}Mi | "
            f"{r['backup_baseline_s']:>10.2f}s {r['backup_ours_s']:>6.2f}s {r['backup_ratio']:>5.2f}x | "
            f"{r['restore_baseline_s']:>11.2f}s {r['restore_ours_s']:>6.2f}s {r['restore_ratio']:>5.2f}x | "
            f"{r['backup_peak_rss_mib']:>6.0f}MiB"
        )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
