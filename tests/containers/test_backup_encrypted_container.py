"""The agent image run as the backup CronJob's pod of a RagAgent with backup.encryption: only
ciphertext reaches the backup volume, and the holder of the age identity gets the dump back."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyrage import x25519

from ragagent.backup import crypt, manifest
from ragagent_operator.render import backup
from tests.containers import stack as stacks
from tests.support.podrun import runner

pytestmark = pytest.mark.containers


def test_the_encrypted_backup_pod_leaves_only_ciphertext_on_its_volume(
    stack: stacks.Stack, ingested: runner.Finished, tmp_path: Path
) -> None:
    assert ingested.exit_code == 0, ingested.describe()
    identity = x25519.Identity.generate()
    recipients = [str(identity.to_public())]
    encrypted = stack.with_spec(backup={"enabled": True, "encryption": {"recipients": recipients}})
    cron = backup.build_backup_cronjob(encrypted.agent, image=encrypted.agent.image)
    run = encrypted.run(cron)
    assert run.exit_code == 0, run.describe()
    assert run.last_json()["encryption"] == "age"
    directory = stack.backups_dir / Path(run.last_json()["backup"]).name
    written = manifest.verify_backup(directory)
    names = sorted(path.name for path in directory.iterdir())
    assert names == [manifest.ENCRYPTED_DUMP_FILE, manifest.MANIFEST_FILE]
    sealed = directory / manifest.ENCRYPTED_DUMP_FILE
    assert not sealed.read_bytes().startswith(b"PGDMP")
    plain = tmp_path / manifest.DUMP_FILE
    crypt.decrypt_file(sealed, plain, [identity])
    assert plain.read_bytes().startswith(b"PGDMP")
    assert manifest.sha256_file(plain) == written.plain_sha256
