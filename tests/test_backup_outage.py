"""An S3 outage in the middle of a backup, against moto: the error names the backup and what it left
in the bucket, `ops list` shows that backup as incomplete (neither hidden nor valid), and `ops prune`
deletes it once it is a day old while the retention tiers still keep the complete backups."""

from __future__ import annotations

import datetime
import re
import threading
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from ops.errors import OpsError
from ops.runtime import backup_segments, backup_store, backups
from tests.conftest import RedisServer
from tests.test_backup_faults import incompressible  # noqa: F401 - the fixture
from tests.test_backups import location, ops, take_backup

BACKUP_ID = re.compile(r"\d{8}T\d{6}\.\d{6}Z")


class Outage:
    """The real (moto) S3 client until S3 goes away: after ``working_puts`` PUTs, or at the manifest's
    PUT, every PUT and every delete fails as an unreachable endpoint would."""

    def __init__(self, real: Any, *, working_puts: int | None = None, deletes_work: bool = False) -> None:
        self.real, self.working_puts, self.deletes_work = real, working_puts, deletes_work
        self.puts = 0
        self.down = False
        self.lock = threading.Lock()

    def _fail(self) -> None:
        raise EndpointConnectionError(endpoint_url="https://s3.eu-west-1.amazonaws.com")

    def put_object(self, **kwargs: Any) -> Any:
        with self.lock:
            self.puts += 1
            if self.working_puts is not None and self.puts > self.working_puts:
                self.down = True
            if kwargs["Key"].endswith(backups.MANIFEST_NAME):
                self.down = True
        if self.down:
            self._fail()
        return self.real.put_object(**kwargs)

    def delete_objects(self, **kwargs: Any) -> Any:
        if not self.deletes_work:
            self._fail()
        return self.real.delete_objects(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _during_outage(monkeypatch: pytest.MonkeyPatch, outage_of: Any) -> None:
    """Backups in this test get the S3 client ``outage_of(real client)``, and 1 MiB segments."""
    real = backup_store.s3_client
    box: list[Outage] = []

    def client(region: str | None, timeout: float = 30.0) -> Any:
        if not box:
            box.append(outage_of(real(region, timeout)))
        return box[0]

    monkeypatch.setattr(backup_store, "s3_client", client)
    monkeypatch.setattr(backup_segments, "SEGMENT_SIZE", 1 << 20)


def _prune_later(bucket: tuple[str, str], backup_id: str, days: float) -> dict[str, Any]:
    started = datetime.datetime.strptime(backup_id, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=datetime.UTC)
    return backups.prune(location(bucket), dry_run=False, now=started + datetime.timedelta(days=days))


def test_an_outage_half_way_through_the_segments_is_named_listed_and_pruned(
    incompressible: RedisServer,  # noqa: F811 - the fixture
    bucket: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    complete = take_backup(incompressible, bucket)  # an earlier, complete backup the tiers keep
    _during_outage(monkeypatch, lambda real: Outage(real, working_puts=3))
    with pytest.raises(OpsError) as info:
        backups.backup(incompressible.endpoint, location(bucket), None)
    message = info.value.message
    found = BACKUP_ID.findall(message)
    assert found and found[0] != complete["id"], message
    failed = found[0]
    assert "storing a segment failed" in message and "Could not connect" in message, message
    assert f"backup {failed} is left incomplete in s3://{bucket[0]}/redis/{failed}/" in message, message
    assert "3 data segment(s) and no manifest" in message and "ops prune" in message, message
    monkeypatch.undo()

    listing = ops("list", "--bucket", bucket[0], "--json", "-")
    assert listing.returncode == 0, listing.stderr
    assert f"{failed}  incomplete" in listing.stderr and "no manifest: 3 object(s)" in listing.stderr
    assert f"{complete['id']}  complete" in listing.stderr
    statuses = {e.id: e.status for e in backups.list_backups(location(bucket))}
    assert statuses == {complete["id"]: "complete", failed: "incomplete"}
    with pytest.raises(OpsError, match="no readable manifest"):  # never restored, never "latest"-d
        backups.get_manifest(location(bucket), failed)
    assert backups.get_manifest(location(bucket), "latest").id == complete["id"]

    assert _prune_later(bucket, failed, 0.5)["deleted"] == []  # it may still be in progress: kept a day
    pruned = _prune_later(bucket, failed, 2)
    assert pruned["deleted"] == [failed] and complete["id"] in pruned["kept"] and not pruned["failed"]
    assert [(e.id, e.status) for e in backups.list_backups(location(bucket))] == [(complete["id"], "complete")]


@pytest.mark.parametrize("deletes_work", [False, True])
def test_an_outage_at_the_manifest_names_what_is_left(
    deletes_work: bool,
    incompressible: RedisServer,  # noqa: F811 - the fixture
    bucket: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _during_outage(monkeypatch, lambda real: Outage(real, deletes_work=deletes_work))
    with pytest.raises(OpsError) as info:
        backups.backup(incompressible.endpoint, location(bucket), None)
    monkeypatch.undo()
    message = info.value.message
    assert message.startswith("the data was uploaded but the manifest was not (Could not connect"), message
    failed = BACKUP_ID.findall(message)[0]
    entries = backups.list_backups(location(bucket))
    if deletes_work:
        assert f"backup {failed}: its segments were deleted" in message and entries == []
    else:
        segments = int(re.findall(r"(\d+) data segment", message)[0])
        assert segments >= 24 and f"backup {failed} is left incomplete" in message, message
        assert [(e.id, e.status) for e in entries] == [(failed, "incomplete")]
        assert f"no manifest: {segments} object(s)" in (entries[0].problem or "")
        assert _prune_later(bucket, failed, 2)["deleted"] == [failed]
        assert backups.list_backups(location(bucket)) == []
