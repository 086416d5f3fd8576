"""The agent image run as the backup CronJob's pod of a RagAgent with backup.encryption: only
ciphertext reaches the backup volume, and the holder of the age identity gets the dump back,
by hand and through the restore Job's pod with the identity mounted from its Secret."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import psycopg
import pytest
from pyrage import x25519

from ragagent.backup import crypt, manifest
from ragagent_operator.render import backup, restore
from ragagent_operator.spec import Restore
from tests.containers import stack as stacks
from tests.support.podrun import runner

pytestmark = pytest.mark.containers
IDENTITY_SECRET = "docs-backup-key"


@dataclasses.dataclass(frozen=True)
class EncryptedBackup:
    stack: stacks.Stack
    identity: x25519.Identity
    run: runner.Finished

    @property
    def directory(self) -> Path:
        return self.stack.backups_dir / Path(self.run.last_json()["backup"]).name


@pytest.fixture(scope="module")
def encrypted(stack: stacks.Stack, ingested: runner.Finished) -> EncryptedBackup:
    """The backup CronJob's pod of the RagAgent with encryption on, run once."""
    assert ingested.exit_code == 0, ingested.describe()
    identity = x25519.Identity.generate()
    recipients = [str(identity.to_public())]
    current = stack.with_spec(backup={"enabled": True, "encryption": {"recipients": recipients}})
    cron = backup.build_backup_cronjob(current.agent, image=current.agent.image)
    return EncryptedBackup(current, identity, current.run(cron))


def test_the_encrypted_backup_pod_leaves_only_ciphertext_on_its_volume(
    encrypted: EncryptedBackup, tmp_path: Path
) -> None:
    run = encrypted.run
    assert run.exit_code == 0, run.describe()
    assert run.last_json()["encryption"] == "age"
    written = manifest.verify_backup(encrypted.directory)
    names = sorted(path.name for path in encrypted.directory.iterdir())
    assert names == [manifest.ENCRYPTED_DUMP_FILE, manifest.MANIFEST_FILE]
    sealed = encrypted.directory / manifest.ENCRYPTED_DUMP_FILE
    assert not sealed.read_bytes().startswith(b"PGDMP")
    plain = tmp_path / manifest.DUMP_FILE
    crypt.decrypt_file(sealed, plain, [encrypted.identity])
    assert plain.read_bytes().startswith(b"PGDMP")
    assert manifest.sha256_file(plain) == written.plain_sha256


def identity_secret(identity: x25519.Identity) -> dict[str, object]:
    """The age identity's Secret, under the key identitySecretRef reads by default."""
    data = base64.b64encode(f"{identity}\n".encode()).decode()
    meta = {"name": IDENTITY_SECRET, "namespace": stacks.NAMESPACE}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"identity": data}}


def test_the_restore_pod_decrypts_the_volume_backup_with_the_mounted_identity(
    encrypted: EncryptedBackup, host_db_url: str
) -> None:
    assert encrypted.run.exit_code == 0, encrypted.run.describe()
    backed_up = encrypted.run.last_json()["rows"]
    with psycopg.connect(host_db_url) as conn:
        conn.execute("DELETE FROM documents WHERE external_id LIKE %s", ("%glacier.md",))
    assert stacks.row_counts(host_db_url)["documents"] == backed_up["documents"] - 1
    secrets = {IDENTITY_SECRET: identity_secret(encrypted.identity)}
    with_key = dataclasses.replace(encrypted.stack, extra_secrets=secrets)
    ref = {"name": IDENTITY_SECRET}
    request = Restore.model_validate(
        {"from": encrypted.directory.name, "force": True, "identitySecretRef": ref}
    )
    job = restore.build_restore_job(with_key.agent, request, image=with_key.agent.image)
    done = with_key.run(job)
    assert done.exit_code == 0, done.describe()
    assert done.last_json()["result"] == "succeeded"
    counts = stacks.row_counts(host_db_url)
    assert counts == {table: backed_up[table] for table in counts}
