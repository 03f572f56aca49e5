"""Argument parsing and output of the backup commands (``backup``, ``verify``, ``restore``,
``list``, ``prune``, ``drill``).

Credentials are read from the environment, never from a flag, so they show in no process list:
``REDIS_PASSWORD`` (and ``REDIS_USERNAME`` for an ACL user) unless the URL carries userinfo, and
``REDIS_SENTINEL_PASSWORD`` for a Sentinel that requires one."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.errors import OpsError, register_secret
from ops.runtime import args as argtypes
from ops.runtime import backups
from ops.runtime.replication import Endpoint
from ops.runtime.report import STDOUT, add_json_flag, write_json

if TYPE_CHECKING:
    from rich.console import Console

CREDENTIALS = (
    "Credentials come from the environment: REDIS_PASSWORD (and REDIS_USERNAME for an ACL user) unless the "
    "URL carries user:password@ (percent-encoded), REDIS_SENTINEL_PASSWORD for Sentinel. AWS: the standard "
    "variables (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...)."
)


def redis_url(value: str) -> Endpoint:
    try:
        return backups.redis_endpoint(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def host_port(value: str) -> tuple[str, int]:
    try:
        return backups.host_port(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def work_dir(p: argparse.ArgumentParser) -> None:
    """``--work-dir``: scratch space for decompressed RDBs."""
    p.add_argument(
        "--work-dir",
        "--spool-dir",
        dest="work_dir",
        type=argtypes.work_dir,
        default=Path(os.environ.get("TMPDIR", "/tmp")),  # noqa: S108
        help="existing, writable scratch directory for decompressed RDBs (default: $TMPDIR, else /tmp)",
    )


def add_commands(commands: Any) -> None:
    def location(p: argparse.ArgumentParser, *, region_required: bool = False) -> None:
        p.add_argument("--bucket", required=True, type=argtypes.bucket_name, help="backup bucket")
        p.add_argument(
            "--prefix", default="redis/", type=argtypes.key_prefix, help="key prefix of the backups (default: redis/)"
        )
        p.add_argument(
            "--region",
            required=region_required and not os.environ.get("AWS_REGION"),
            default=os.environ.get("AWS_REGION") or None,
            type=argtypes.aws_region,
            help="AWS region (default: $AWS_REGION, else the AWS profile's)",
        )

    def common(p: argparse.ArgumentParser) -> None:
        location(p)
        add_json_flag(p)

    b = commands.add_parser(
        "backup",
        help="stream an RDB from a replica, check, compress, checksum and upload it",
        description="Take a diskless snapshot of a Redis replica over the replication protocol (as redis-cli --rdb "
        "does), check and count it with redis-check-rdb, compress and upload it with SSE-KMS, and write its "
        "manifest last. " + CREDENTIALS,
    )
    source = b.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--redis-url", type=redis_url, help="redis://[user:password@]host:port of the server to back up"
    )
    source.add_argument(
        "--sentinel",
        type=host_port,
        action="append",
        metavar="HOST:PORT",
        help="a Sentinel to ask for the replica to back up (repeat for several; the first that answers is used)",
    )
    b.add_argument("--master-name", default="mymaster", help="the primary's name in Sentinel (default: mymaster)")
    b.add_argument(
        "--allow-primary",
        action="store_true",
        help="back up the primary when no replica has a working link (its fork costs memory on the serving node)",
    )
    b.add_argument("--kms-key-id", help="KMS key for SSE-KMS (default: the bucket's default key)")
    b.add_argument(
        "--compression",
        choices=("auto", "zstd", "none"),
        default="auto",
        help="zstd, none, or auto: zstd when the first 4 MiB of the snapshot shrink below 85%% (default: auto)",
    )
    b.add_argument("--verify", action="store_true", help="read the backup back and verify it after upload")
    b.add_argument(
        "--deadline",
        type=argtypes.positive_seconds,
        default=backups.DEFAULT_DEADLINE,
        metavar="SECONDS",
        help=f"give up (and abort the upload) after this long (default: {backups.DEFAULT_DEADLINE:.0f})",
    )
    b.add_argument(
        "--io-timeout",
        type=argtypes.positive_seconds,
        default=60.0,
        metavar="SECONDS",
        help="longest wait for the source or S3 to answer one request (default: 60)",
    )
    common(b)
    work_dir(b)

    v = commands.add_parser(
        "verify",
        help="check a backup's checksums and RDB validity, touching no server",
        description="Download a backup, check its sizes and SHA-256 against the manifest and run redis-check-rdb "
        "(required) on it. Exit 0 when it is sound.",
    )
    v.add_argument("--backup", default="latest", help="backup id or 'latest' (default: latest)")
    common(v)
    work_dir(v)

    r = commands.add_parser(
        "restore",
        help="restore a verified backup into an RDB file or a running Redis primary",
        description="Verify a backup, check the target (a primary, enough databases, a Redis that reads the RDB "
        "version, empty of keys and functions unless --force), then write the RDB for a stopped server or "
        "have a running server replicate it from a one-shot primary that only it can authenticate to. " + CREDENTIALS,
    )
    r.add_argument("--backup", default="latest", help="backup id or 'latest' (default: latest)")
    target = r.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--target-rdb",
        type=argtypes.new_file,
        help="write the RDB to this file (for a stopped server); its directory must exist",
    )
    target.add_argument("--target-url", type=redis_url, help="redis://[user:password@]host:port of a running primary")
    r.add_argument(
        "--advertise",
        default="127.0.0.1",
        type=argtypes.address,
        help="the address the target reaches this process at; the one-shot primary listens there only "
        "(default: 127.0.0.1)",
    )
    r.add_argument("--force", action="store_true", help="replace a target that holds keys or functions")
    common(r)
    work_dir(r)

    rj = commands.add_parser(
        "restore-job",
        help="render the in-cluster restore: a Job and the NetworkPolicies it needs, for kubectl apply",
        description="Print, as JSON for `kubectl apply -f -`, a Job that runs `ops restore` against the running "
        "primary from inside the cluster (ServiceAccount and label redis-backup, the Redis password from the "
        "redis-auth Secret, its pod IP as --advertise) and the two NetworkPolicies that let the primary "
        "replicate from it. Follow docs/runbooks/backup-restore.md for Sentinel and the gateway.",
    )
    rj.add_argument("--backup", required=True, help="backup id to restore (from `ops list`; 'latest' is refused here)")
    rj.add_argument(
        "--primary", required=True, type=host_port, metavar="HOST:PORT", help="the primary, as Sentinel names it"
    )
    rj.add_argument("--image", required=True, type=argtypes.image, help="the ops image, pinned (as the CronJobs use)")
    rj.add_argument(
        "--namespace",
        default="redis-system",
        type=argtypes.dns_label,
        help="namespace of Redis (default: redis-system)",
    )
    rj.add_argument(
        "--name", default="redis-restore", type=argtypes.dns_label, help="name of the Job (default: redis-restore)"
    )
    rj.add_argument("--force", action="store_true", help="pass --force: replace a primary that holds keys")
    location(rj, region_required=True)  # the Job runs where no profile says which region

    lst = commands.add_parser(
        "list",
        help="list backups: complete, invalid (unreadable manifest) and incomplete (no manifest)",
        description="List every backup folder under the prefix with its status, oldest first.",
    )
    common(lst)

    p = commands.add_parser(
        "prune",
        help="delete backups outside the retention tiers",
        description="Keep all backups of the last 24 h, one per hour for 7 days, per day for 30 days, per week "
        "for 52 weeks; delete every version of the others. Versions Object Lock retains are reported.",
    )
    p.add_argument("--dry-run", action="store_true", help="show what would be deleted")
    common(p)

    d = commands.add_parser(
        "drill",
        help="restore the latest backup into a scratch Redis; report RTO and RPO",
        description="Restore the latest backup into a throw-away redis-server (needs redis-server on PATH) and "
        "report the measured RTO and RPO. Exit 1 when anything fails.",
    )
    common(d)
    work_dir(d)


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=Console(stderr=True)
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda n: bar.advance(task, n)


def _credentials() -> Endpoint:
    """The Redis credentials of the environment, for the replica Sentinel names."""
    password = os.environ.get("REDIS_PASSWORD") or None
    register_secret(password)
    return Endpoint("", 0, os.environ.get("REDIS_USERNAME") or None, password)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.command == "restore-job":
        from ops.runtime import restore_job
        from ops.runtime.report import write_json as emit

        if not backups.manifests.BACKUP_ID_RE.fullmatch(args.backup):
            raise OpsError(f"--backup {args.backup!r}: name one backup id (from `ops list`), not 'latest'", code=2)
        emit(
            "-",
            restore_job.render(
                name=args.name,
                image=args.image,
                bucket=args.bucket,
                backup=args.backup,
                primary=args.primary,
                prefix=args.prefix,
                region=args.region,
                namespace=args.namespace,
                force=args.force,
            ),
        )
        return 0
    location = backups.Location(args.bucket, args.prefix, args.region)
    interactive = sys.stderr.isatty() and args.json != STDOUT
    result: Any
    if args.command == "backup":
        if args.verify:
            backups.work_directory(args.work_dir)
        source = args.redis_url or backups.find_replica(
            args.sentinel,
            args.master_name,
            _credentials(),
            sentinel_password=os.environ.get("REDIS_SENTINEL_PASSWORD") or None,
            allow_primary=args.allow_primary,
        )
        with _progress(interactive, "uploaded") as progress:
            result = backups.backup(
                source,
                location,
                args.kms_key_id,
                progress,
                deadline_seconds=args.deadline,
                idle_timeout=args.io_timeout,
                compression=args.compression,
            )
        if args.verify:
            result["verified"] = backups.verify(location, result["id"], args.work_dir)["verified"]
        summary = (
            f"backup {result['id']} of {source.address}: {result['key_count']} keys, "
            f"RDB {result['rdb_size']} bytes -> {result['object_size']} bytes"
        )
    elif args.command == "verify":
        result = backups.verify(location, args.backup, args.work_dir)
        summary = f"backup {result['id']} verified: {result['keys']} keys, checksums and redis-check-rdb agree"
    elif args.command == "restore":
        with _progress(interactive, "downloaded") as progress:
            result = backups.restore(
                location,
                args.backup,
                args.work_dir,
                target_rdb=args.target_rdb,
                target_url=args.target_url,
                force=args.force,
                advertise=args.advertise,
                progress=progress,
            )
        summary = (
            f"backup {result['id']} restored to {result['restored_to']} in {result['seconds']}s: "
            f"{result['keys']} keys ({result['keys_with_ttl']} with a TTL) in databases {result['databases']}"
        )
    elif args.command == "list":
        entries = backups.list_backups(location)
        result = [e.as_dict() for e in entries]
        lines = []
        for e in entries:
            if e.manifest is not None:
                lines.append(f"{e.id}  complete  {e.manifest.key_count:>10} keys  {e.manifest.object_size:>12} bytes")
            else:
                lines.append(f"{e.id}  {e.status:<10} {e.problem}")
        summary = "\n".join(lines) or "no backups"
    elif args.command == "prune":
        result = backups.prune(location, args.dry_run)
        gone = result["would_delete"] if args.dry_run else result["deleted"]
        summary = f"kept {len(result['kept'])}, {'would delete' if args.dry_run else 'deleted'} {len(gone)}"
        if result["retained"]:
            summary += f", {len(result['retained'])} object(s) still retained by Object Lock: " + ", ".join(
                result["retained"]
            )
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
    write_json(args.json, result)
    if args.json == STDOUT:
        from rich.console import Console as StderrConsole

        console = StderrConsole(stderr=True, highlight=False)
    console.print(summary, markup=False)
    return 0
