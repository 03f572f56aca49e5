"""``python -m ops dr``: arguments and output of ``status``, ``failover``, ``failback``,
``restore-from-backup`` and ``drill``.

The stack (``--stack``) names the hostname, the Route 53 zone and the DR region; the Redis endpoints
are given as ``redis://host:port`` (credentials from ``REDIS_PASSWORD``, never a flag). Every input is
checked, and the Redis servers, the DNS records and the cluster access are read, before the first
change: a mistake stops the command with one line and nothing done.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ops.errors import OpsError
from ops.runtime import args as argtypes
from ops.runtime import backups, dr
from ops.runtime.backup_cli import CREDENTIALS, host_port, redis_url, work_dir
from ops.runtime.replication import Endpoint
from ops.runtime.report import STDOUT, add_json_flag, write_json

if TYPE_CHECKING:
    from rich.console import Console

    import settings as settings_module

GATEWAY_HPA = "redis-gateway"


def add_commands(commands: Any) -> None:
    top = commands.add_parser(
        "dr",
        help="disaster recovery: status, failover, failback, restore-from-backup and the drill",
        description="Operate the warm-standby region (docs/runbooks/disaster-recovery.md). " + CREDENTIALS,
    )
    sub = top.add_subparsers(dest="dr_command", required=True, metavar="ACTION")

    def stack(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument(
            "--stack",
            required=required,
            default=None if required else "production",
            type=argtypes.stack_name,
            help="stack name: reads Pulumi.<stack>.yaml (hostname, zone, DR region, objectives)"
            + ("" if required else " (default: production)"),
        )

    def sides(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--primary-redis",
            required=True,
            type=redis_url,
            metavar="URL",
            help="redis://host:port of the primary region's Redis primary",
        )
        p.add_argument(
            "--dr-redis",
            required=True,
            type=redis_url,
            metavar="URL",
            help="redis://host:port of the DR region's Redis (the one promoted)",
        )

    def watch(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--primary-watch",
            action="append",
            default=[],
            type=redis_url,
            metavar="URL",
            help="another address the primary region's Redis can be reached at (repeatable): the fence checks "
            "every one for a primary that serves writes again",
        )

    def operation(p: argparse.ArgumentParser) -> None:
        sides(p)
        p.add_argument(
            "--dr-replica",
            action="append",
            default=[],
            type=redis_url,
            metavar="URL",
            help="another Redis of the DR region, repointed at the promoted one (repeatable)",
        )
        p.add_argument(
            "--primary-link",
            type=host_port,
            metavar="HOST:PORT",
            help="how the DR region reaches the primary's Redis (its internal load balancer; default: --primary-redis)",
        )
        p.add_argument(
            "--dr-link",
            type=host_port,
            metavar="HOST:PORT",
            help="how the primary region reaches the DR Redis (default: --dr-redis)",
        )
        p.add_argument(
            "--dr-kubeconfig",
            required=True,
            type=argtypes.existing_file,
            metavar="FILE",
            help="kubeconfig of the DR cluster: the DR Sentinel and the gateway's minimum are set through it",
        )
        p.add_argument("--dr-context", metavar="NAME", help="context in --dr-kubeconfig (default: its current one)")
        p.add_argument(
            "--primary-replica",
            action="append",
            default=[],
            type=redis_url,
            metavar="URL",
            help="another Redis of the primary region (repeatable): counted for its min-replicas-to-write",
        )
        watch(p)
        p.add_argument(
            "--accept-data-loss",
            action="store_true",
            help="promote a standby that fails the promotion guard (failover), or discard writes only the old "
            "primary holds (failback); what is lost is reported",
        )
        p.add_argument(
            "--catch-up-timeout",
            type=argtypes.positive_seconds,
            default=30.0,
            help="seconds a fenced primary's replica may take to catch up (default: 30)",
        )
        p.add_argument("--dry-run", action="store_true", help="print each step and what it would do; change nothing")
        add_json_flag(p)

    s = sub.add_parser(
        "status",
        help="replication link, lag, newest DR backup and where DNS points",
        description="Read-only. " + CREDENTIALS,
    )
    stack(s)
    sides(s)
    s.add_argument("--bucket", type=argtypes.bucket_name, help="the DR backup bucket: report its newest backup and age")
    add_json_flag(s)
    s.description = (
        "Read-only. Exit 0 healthy (the primary serves, the standby replicates within the RPO), 1 degraded, "
        "failed over or split brain (two primaries accept writes), 2 cannot judge. " + CREDENTIALS
    )

    f = sub.add_parser(
        "failover",
        help="fence the primary, promote the DR Redis, pin DNS to DR, scale DR up, smoke-test it",
        description="Move service to the DR region. Every step is idempotent: an interrupted failover is "
        "finished by running it again. Exit 0 done, 1 a step failed, 2 bad input. " + CREDENTIALS,
    )
    stack(f)
    operation(f)
    f.add_argument("--dr-url", type=argtypes.http_url, help="URL the smoke test uses (default: https://<hostname>)")
    f.add_argument(
        "--bucket",
        type=argtypes.bucket_name,
        help="the DR backup bucket: its newest manifest's key count is the primary's last known size for the "
        "promotion guard when the primary cannot be reached",
    )

    b = sub.add_parser(
        "failback",
        help="make the primary a replica of DR, wait until in sync, swap roles back, unpin DNS",
        description="Move service back to the primary region without loss: the primary catches up before "
        "the DR side is fenced. Idempotent like failover. " + CREDENTIALS,
    )
    stack(b)
    operation(b)
    b.add_argument(
        "--primary-url", type=argtypes.http_url, help="URL the smoke test uses (default: https://<hostname>)"
    )
    b.add_argument(
        "--sync-timeout",
        type=argtypes.positive_seconds,
        default=1800.0,
        help="seconds the primary may take to catch up (default: 1800)",
    )
    b.add_argument(
        "--recover-writes",
        action="store_true",
        help="copy keys only the old primary holds to the serving DR side before it is made a replica",
    )

    g = sub.add_parser(
        "guard",
        help="after a failover: fence any server at the primary's addresses that serves writes again",
        description="The fence for an old primary that could not be reached at failover time: every --interval "
        "seconds (or once), each address of the primary region's Redis is checked, and a server there that "
        "accepts writes and is not the promoted DR Redis (by run id) is fenced. Exit 0, 1 when it fenced "
        "one (--once), 2 bad input or no serving DR Redis to guard. " + CREDENTIALS,
    )
    stack(g)
    sides(g)
    watch(g)
    g.add_argument("--once", action="store_true", help="one pass, then exit")
    g.add_argument(
        "--interval", type=argtypes.positive_seconds, default=2.0, help="seconds between passes (default: 2)"
    )
    add_json_flag(g)

    r = sub.add_parser(
        "restore-from-backup",
        help="the second line: a verified backup from the DR bucket into the serving DR Redis",
        description="For corruption, an accidental flush (replication copies it) or a lost standby: verify a "
        "backup of the DR bucket and load it into the DR Redis, which must be serving (fail over first). "
        + CREDENTIALS,
    )
    stack(r)
    r.add_argument("--dr-redis", required=True, type=redis_url, metavar="URL", help="redis://host:port of the DR Redis")
    r.add_argument("--bucket", required=True, type=argtypes.bucket_name, help="the DR backup bucket")
    r.add_argument(
        "--prefix", default="redis/", type=argtypes.key_prefix, help="key prefix of the backups (default: redis/)"
    )
    r.add_argument(
        "--region",
        type=argtypes.aws_region,
        help="region of the bucket (default and only accepted value: the stack's DR region)",
    )
    r.add_argument(
        "--backup", default="latest", help="backup id (point in time, from `ops list`) or 'latest' (default)"
    )
    r.add_argument(
        "--advertise",
        default="127.0.0.1",
        type=argtypes.address,
        help="the address the DR Redis reaches this process at (default: 127.0.0.1)",
    )
    r.add_argument("--force", action="store_true", help="replace data the DR Redis holds")
    work_dir(r)
    add_json_flag(r)

    d = sub.add_parser(
        "drill",
        help="rehearse failover and failback for real on loopback; exit 1 when RPO or RTO misses the stack's targets",
        description="Start two redis-servers (primary and DR replica), gateway stand-ins and a moto Route 53/S3, "
        "write a sequence number every 5 ms throughout, then: kill -9 the primary (kill), cut the link (cut), "
        "freeze the primary through the failover and let it come back with a writer of its own (freeze: split "
        "brain, fenced, its writes recovered at failback), flush and restore from backup (restore). RPO is "
        "the data actually lost, RTO the time to the first write through the DR side.",
    )
    stack(d, required=False)
    d.add_argument(
        "--scenario",
        action="append",
        choices=("kill", "cut", "freeze", "restore"),
        help="run only this scenario (repeatable; default: all)",
    )
    add_json_flag(d)


# -- stack facts -----------------------------------------------------------------------------------


def _stack(name: str) -> settings_module.StackSettings:
    """The validated settings of a stack with DR on; exit 2 otherwise."""
    try:
        import settings
        from ops.offline.engine import load_stack_config
    except ModuleNotFoundError as exc:
        raise OpsError(
            f"`ops dr` reads the stack file and needs the program's requirements (missing: {exc.name})", code=2
        ) from None
    config = load_stack_config(name)
    try:
        cfg = settings.load_settings(config.values, source=config.path.name, secret_keys=config.secret_keys)
    except settings.SettingsError as exc:
        raise OpsError("\n".join(exc.problems), code=2) from None
    if not cfg.dr.enabled:
        raise OpsError(f"stack {name} has no DR region (redisgw:dr.enabled is false in {config.path.name})", code=2)
    return cfg


def _password_given(*endpoints: Endpoint) -> None:
    for e in endpoints:
        if not e.password:
            raise OpsError(
                f"no Redis password for {e.address}: set REDIS_PASSWORD (or user:password@ in the URL)", code=2
            )


def _plan(args: argparse.Namespace, cfg: settings_module.StackSettings) -> dr.Plan:
    from ops.runtime.dr_targets import KubernetesScaler, Route53Dns

    _password_given(args.primary_redis, args.dr_redis, *args.dr_replica, *args.primary_replica, *args.primary_watch)
    scaler = KubernetesScaler(str(args.dr_kubeconfig), cfg.gateway.namespace, GATEWAY_HPA, args.dr_context)
    url = f"https://{cfg.gateway.hostname}"
    last_known = None
    if getattr(args, "bucket", None):
        newest = _newest_backup(backups.Location(args.bucket, "redis/", cfg.dr.region))
        last_known = newest.get("keys") if newest else None
    return dr.Plan(
        primary=dr.Side(
            "primary",
            args.primary_redis,
            tuple(args.primary_replica),
            link=args.primary_link,
            watch=tuple(args.primary_watch),
        ),
        dr=dr.Side("dr", args.dr_redis, tuple(args.dr_replica), link=args.dr_link),
        dns=Route53Dns(cfg.gateway.hosted_zone_id, cfg.gateway.hostname),
        scaler=scaler,
        dr_url=getattr(args, "dr_url", None) or url,
        primary_url=getattr(args, "primary_url", None) or url,
        active_minimum=cfg.gateway.replicas.min,
        standby_minimum=cfg.dr.gateway_min_replicas,
        catch_up_timeout=args.catch_up_timeout,
        sync_timeout=getattr(args, "sync_timeout", 1800.0),
        rpo_seconds=float(cfg.dr.rpo_seconds),
        redis_config=_redis_config(cfg),
        last_known_keys=last_known,
        accept_data_loss=args.accept_data_loss,
        recover_writes=getattr(args, "recover_writes", False),
    )


def _redis_config(cfg: settings_module.StackSettings) -> dict[str, str]:
    """The plan's replication settings of the data tier, as the program renders them."""
    import settings

    return settings.redis_replication_config(cfg)


def _out(args: argparse.Namespace, console: Console) -> Console:
    if args.json == STDOUT:
        from rich.console import Console as StderrConsole

        return StderrConsole(stderr=True, highlight=False)
    return console


def run(args: argparse.Namespace, console: Console) -> int:
    out = _out(args, console)
    say = lambda line: out.print(line, markup=False)  # noqa: E731
    if args.dr_command == "drill":
        return _drill(args, out)
    cfg = _stack(args.stack)
    if args.dr_command == "status":
        return _status(args, cfg, say)
    if args.dr_command == "guard":
        return _guard(args, cfg, say)
    if args.dr_command in ("failover", "failback"):
        plan = _plan(args, cfg)
        fn = dr.failover if args.dr_command == "failover" else dr.failback
        outcome: dr.Outcome | None = None
        steps: list[dr.Step] = []

        def step(s: dr.Step) -> None:
            steps.append(s)
            say(f"{s.name:<9} {s.status:<10} {s.detail} ({s.seconds}s)")

        try:
            outcome = fn(plan, dry_run=args.dry_run, say=step)
        except OpsError as exc:
            # The report is written on every outcome: what ran, and where and why it stopped.
            failed = dr.Outcome(args.dr_command, steps=steps, error=exc.message)
            named = {"diverged_keys": exc.keys} if isinstance(exc, dr.DivergedError) else {}
            write_json(args.json, failed.as_dict() | named)
            raise
        write_json(args.json, outcome.as_dict())
        if not args.dry_run:
            lag = f"; {outcome.lag_bytes} bytes behind at the fence" if outcome.lag_bytes else ""
            say(
                f"{args.dr_command} done: RTO {outcome.rto_seconds}s (target {cfg.dr.rto_seconds}s), "
                f"{outcome.rpo_text()} (target {cfg.dr.rpo_seconds}s){lag}"
            )
            if outcome.recovered_keys:
                say(f"{outcome.recovered_keys} keys only the old primary held were copied to the DR side first")
        return 0
    if args.dr_command == "restore-from-backup":
        region = args.region or cfg.dr.region
        if region != cfg.dr.region:
            raise OpsError(f"--region {region} is not the DR region of stack {args.stack} ({cfg.dr.region})", code=2)
        _password_given(args.dr_redis)
        location = backups.Location(args.bucket, args.prefix, region)
        result = dr.restore_from_backup(
            location,
            args.backup,
            args.dr_redis,
            backups.work_directory(args.work_dir),
            force=args.force,
            advertise=args.advertise,
        )
        write_json(args.json, result)
        say(
            f"backup {result['id']} restored into the DR Redis {args.dr_redis.address}: "
            f"{result['keys']} keys in {result['seconds']}s"
        )
        return 0
    raise OpsError(f"unknown dr action {args.dr_command}", code=2)  # pragma: no cover - argparse restricts it


def _status(args: argparse.Namespace, cfg: settings_module.StackSettings, say: Any) -> int:
    from ops.runtime.dr_targets import Route53Dns

    _password_given(args.primary_redis, args.dr_redis)
    result: dict[str, Any] = {"health": "unknown"}
    try:
        result = dr.status(
            args.primary_redis,
            args.dr_redis,
            Route53Dns(cfg.gateway.hosted_zone_id, cfg.gateway.hostname),
            float(cfg.dr.rpo_seconds),
        )
        if args.bucket:
            result["backup"] = _newest_backup(backups.Location(args.bucket, "redis/", cfg.dr.region))
    except OpsError as exc:
        result |= {"error": exc.message}
        write_json(args.json, result)
        raise OpsError(exc.message, code=2) from None
    write_json(args.json, result)
    for line in _status_lines(result):
        say(line)
    return dr.STATUS_EXIT[result["health"]]


def _guard(args: argparse.Namespace, cfg: settings_module.StackSettings, say: Any) -> int:
    import time

    from ops.runtime.dr_targets import Route53Dns

    _password_given(args.primary_redis, args.dr_redis, *args.primary_watch)
    dr.identify({"--primary-redis": args.primary_redis, "--dr-redis": args.dr_redis})
    plan = dr.Plan(
        primary=dr.Side("primary", args.primary_redis, watch=tuple(args.primary_watch)),
        dr=dr.Side("dr", args.dr_redis),
        dns=Route53Dns(cfg.gateway.hosted_zone_id, cfg.gateway.hostname),
    )
    fenced: list[str] = []
    while True:
        try:
            lines = dr.guard(plan)
        except OpsError as exc:  # no serving DR Redis to guard: cannot judge
            if args.once:
                write_json(args.json, {"fenced": fenced, "error": exc.message})
                raise
            say(exc.message)
            time.sleep(args.interval)
            continue
        for line in lines:
            say(line)
        fenced += lines
        if args.once:
            write_json(args.json, {"fenced": fenced})
            if not fenced:
                say("guard: no server at the primary's addresses serves writes")
            return 1 if fenced else 0
        time.sleep(args.interval)


def _status_lines(result: dict[str, Any]) -> list[str]:
    def side(name: str) -> str:
        s = result[name]
        if not s["reachable"]:
            return f"{name:<8} {s['address']}: UNREACHABLE {s['error']}"
        role = s["role"] + (", fenced" if s["fenced"] else "") + (", serving" if s["serving"] else "")
        return f"{name:<8} {s['address']}: {role}, {s['keys']} keys"

    link, dns = result["link"], result["dns"]
    if link["up"]:
        behind = f"{link['lag_bytes']} bytes behind" if link["lag_bytes"] is not None else "lag unknown"
        contact = f", last contact {link['last_io_seconds']}s ago" if link["last_io_seconds"] is not None else ""
        link_line = f"link     up, {behind}{contact}"
    elif link["down_seconds"] is not None:
        link_line = f"link     DOWN for {link['down_seconds']}s"
    else:
        link_line = "link     DOWN" + (" (a full resync in progress)" if link["sync_in_progress"] else "")
    if dns.get("error"):
        dns_line = f"dns      unknown: {dns['error']}"
    else:
        dns_line = f"dns      answers with the {dns['answering']} region" + (" (pinned)" if dns["pinned_to_dr"] else "")
    lines = [
        side("primary"),
        side("dr"),
        link_line,
        dns_line,
        f"health   {result['health']}" + (f": {'; '.join(result['problems'])}" if result["problems"] else ""),
    ]
    if result.get("advice"):
        lines.append(f"advice   {result['advice']}")
    if "backup" in result:
        b = result["backup"]
        lines.append(f"backup   newest in the DR bucket: {b['id']}, {b['age_seconds']}s old" if b else "backup   none")
    return lines


def _newest_backup(location: backups.Location) -> dict[str, Any] | None:
    import datetime

    complete = [e for e in backups.list_backups(location) if e.manifest is not None]
    if not complete:
        return None
    newest = complete[-1].manifest
    assert newest is not None
    age = (datetime.datetime.now(datetime.UTC) - newest.completed_at).total_seconds()
    return {
        "id": newest.id,
        "completed_at": newest.completed_at.isoformat(),
        "age_seconds": round(age, 1),
        "keys": newest.key_count,
    }


def _drill(args: argparse.Namespace, out: Console) -> int:
    from rich.table import Table

    from ops.runtime import dr_drill

    cfg = _stack(args.stack)
    scenarios = tuple(dict.fromkeys(args.scenario or dr_drill.SCENARIOS))
    interactive = sys.stderr.isatty()
    result = dr_drill.drill(
        scenarios,
        float(cfg.dr.rpo_seconds),
        float(cfg.dr.rto_seconds),
        (lambda line: out.print(line, markup=False)) if interactive else (lambda line: None),
        _redis_config(cfg),
    )
    write_json(args.json, result)
    table = Table(title=f"DR drill ({args.stack}: RPO < {cfg.dr.rpo_seconds}s, RTO < {cfg.dr.rto_seconds}s)")
    for column in ("scenario", "writes lost", "RPO s", "RTO s", "failback lost", "failback RTO s"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for r in result["scenarios"]:
        back = r.get("failback", {})
        table.add_row(
            r["scenario"],
            str(r.get("lost_writes", "-")),
            str(r.get("rpo_seconds")),
            str(r.get("rto_seconds")),
            str(back.get("lost_writes", "-")),
            str(back.get("rto_seconds", "-")),
        )
    out.print(table)
    for problem in result["problems"]:
        out.print(f"FAIL {problem}", markup=False)
    out.print("drill " + ("passed" if result["ok"] else "FAILED"), markup=False)
    return 0 if result["ok"] else 1
