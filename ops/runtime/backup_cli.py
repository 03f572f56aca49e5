"""Argument parsing and output of the backup commands (``backup``, ``verify``, ``restore``,
``list``, ``prune``, ``drill``). The Redis password is read from ``REDIS_PASSWORD``, never a flag,
so it shows in no process list or log."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from ops.errors import OpsError
from ops.runtime import backups


def add_commands(commands: Any) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bucket", required=True, help="backup bucket")
        p.add_argument("--prefix", default="redis/", help="key prefix of the backups (default: redis/)")
        p.add_argument("--region", default=os.environ.get("AWS_REGION"), help="AWS region (default: $AWS_REGION)")
        p.add_argument("--json", action="store_true", help="print the result as one JSON object")

    def work_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--work-dir",
            "--spool-dir",
            dest="work_dir",
            type=Path,
            default=Path(os.environ.get("TMPDIR", "/tmp")),  # noqa: S108
            help="scratch space for decompressed RDBs (default: $TMPDIR)",
        )

    b = commands.add_parser("backup", help="stream an RDB from a replica, compress, checksum and upload it")
    source = b.add_mutually_exclusive_group(required=True)
    source.add_argument("--redis-url", help="redis://host:port of the server to back up")
    source.add_argument("--sentinel", help="host:port of Sentinel; a replica of --master-name is backed up")
    b.add_argument("--master-name", default="mymaster")
    b.add_argument("--kms-key-id", help="KMS key for SSE-KMS (default: the bucket's default key)")
    b.add_argument("--verify", action="store_true", help="read the backup back and verify it after upload")
    common(b)
    work_dir(b)

    v = commands.add_parser("verify", help="check a backup's checksums and RDB validity, touching no server")
    v.add_argument("--backup", default="latest", help="backup id or 'latest'")
    common(v)
    work_dir(v)

    r = commands.add_parser("restore", help="restore a verified backup into an RDB file or a running, empty Redis")
    r.add_argument("--backup", default="latest", help="backup id or 'latest'")
    target = r.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-rdb", type=Path, help="write the RDB here (for a stopped server)")
    target.add_argument("--target-url", help="redis://host:port of a running, empty server to load into")
    r.add_argument("--advertise", default="127.0.0.1", help="address the target can reach this process at")
    r.add_argument("--force", action="store_true", help="replace a non-empty target")
    common(r)
    work_dir(r)

    lst = commands.add_parser("list", help="list complete backups (those with a manifest)")
    common(lst)

    p = commands.add_parser("prune", help="delete backups outside the retention tiers")
    p.add_argument("--dry-run", action="store_true", help="show what would be deleted")
    common(p)

    d = commands.add_parser("drill", help="restore the latest backup into a scratch Redis; report RTO and RPO")
    common(d)
    work_dir(d)


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    with Progress(
        TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=Console(stderr=True)
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda n: bar.advance(task, n)


def run(args: argparse.Namespace, console: Console) -> int:
    location = backups.Location(args.bucket, args.prefix, args.region)
    password = os.environ.get("REDIS_PASSWORD") or None
    interactive = sys.stderr.isatty() and not args.json
    result: Any
    if args.command == "backup":
        source = args.redis_url or backups.find_replica(args.sentinel, args.master_name, password)
        with _progress(interactive, "uploaded") as progress:
            result = backups.backup(source, password, location, args.kms_key_id, progress)
        if args.verify:
            result["verified"] = backups.verify(location, result["id"], args.work_dir)["verified"]
        summary = (
            f"backup {result['id']}: {result['key_count']} keys, "
            f"RDB {result['rdb_size']} bytes -> {result['object_size']} bytes"
        )
    elif args.command == "verify":
        result = backups.verify(location, args.backup, args.work_dir)
        summary = f"backup {result['id']} verified"
    elif args.command == "restore":
        result = backups.restore(
            location,
            args.backup,
            args.work_dir,
            target_rdb=args.target_rdb,
            target_url=args.target_url,
            password=password,
            force=args.force,
            advertise=args.advertise,
        )
        summary = f"backup {result['id']} restored to {result['restored_to']} in {result['seconds']}s"
    elif args.command == "list":
        result = backups.list_backups(location)
        summary = (
            "\n".join(f"{m['id']}  {m['key_count']:>10} keys  {m['object_size']:>12} bytes" for m in result)
            or "no backups"
        )
    elif args.command == "prune":
        result = backups.prune(location, args.dry_run)
        gone = result["would_delete"] if args.dry_run else result["deleted"]
        summary = f"kept {len(result['kept'])}, {'would delete' if args.dry_run else 'deleted'} {len(gone)}"
        if result["failed"]:
            raise OpsError("could not delete: " + "; ".join(result["failed"]))
    elif args.command == "drill":
        result = backups.drill(location, args.work_dir)
        summary = (
            f"drill OK: backup {result['id']} ({result['keys']} keys) "
            f"RTO {result['rto_seconds']}s RPO {result['rpo_seconds']}s"
        )
    else:  # pragma: no cover - argparse restricts the choices
        raise OpsError(f"unknown command {args.command}", code=2)
    if args.json:
        print(json.dumps(result))
    else:
        console.print(summary, markup=False)
    return 0
