"""A real S3-compatible server for the backup tests: SeaweedFS's ``weed server -s3``.

Built by hack/build-seaweedfs (run by ``make tools``) into the tools bin directory. One
server per test session, on loopback ports, with its data in pytest's temporary directory;
its admin credentials come from the environment, as ``weed`` reads them. Without the binary
the tests skip loudly, and fail under CI, where ``make test`` builds it.
"""

from __future__ import annotations

import os
import secrets
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from minio import Minio

from tests.support import processes, tools

BUILD_SCRIPT = tools.REPO_ROOT / "hack" / "build-seaweedfs"
START_TIMEOUT = 120.0
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:<port>
    access_key: str
    secret_key: str = field(repr=False)

    def client(self) -> Minio:
        host = self.endpoint.removeprefix("http://")
        return Minio(host, self.access_key, self.secret_key, secure=False, region=REGION)

    def new_bucket(self) -> str:
        name = f"backups-{secrets.token_hex(4)}"
        self.client().make_bucket(name)
        return name

    def object_bytes(self, bucket: str) -> dict[str, bytes]:
        """Every object of ``bucket`` with its content."""
        s3 = self.client()
        found = {}
        for item in s3.list_objects(bucket, recursive=True):
            response = s3.get_object(bucket, str(item.object_name))
            try:
                found[str(item.object_name)] = response.read()
            finally:
                response.close()
                response.release_conn()
        return found


def weed_binary() -> Path:
    """``weed`` in the tools bin directory, or ToolsMissingError naming the build script."""
    bin_dir = tools.tools_bin()
    path = bin_dir / "weed"
    if not os.access(path, os.X_OK):
        raise tools.ToolsMissingError(
            f"missing weed in {bin_dir}; build it with `make tools` "
            f"(runs {BUILD_SCRIPT.relative_to(tools.REPO_ROOT)}, needs Go and the module proxy)"
        )
    return path


def _s3_answers(endpoint: str) -> bool:
    """Any HTTP answer from the S3 port (403 to an anonymous request) means it is serving."""
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=2):  # noqa: S310 (our http URL)
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextmanager
def running_s3(workdir: Path) -> Iterator[S3Server]:
    """Starts ``weed server`` with a filer and S3 on free loopback ports; stops it after.

    Each bucket is a collection that grows 7 (sparse) volumes at its first write, hence
    room for 200: the tests make a bucket each."""
    weed = weed_binary()
    data = workdir / "data"
    data.mkdir(parents=True)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = processes.free_ports(
        8
    )
    server = S3Server(f"http://127.0.0.1:{s3}", "ragagent-test", secrets.token_hex(16))
    argv = [
        # glog writes to /tmp unless told otherwise: the logs go with the work dir.
        str(weed), f"-logdir={workdir}", "server", f"-dir={data}", "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=200",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0",
        "-s3.port.lance=0", f"-s3.localSocket={workdir / 's3.sock'}",
    ]  # fmt: skip
    env = {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key}
    component = processes.start("weed", argv, log_dir=workdir, env=env)
    try:
        processes.wait_until(
            "SeaweedFS S3", lambda: _s3_answers(server.endpoint), timeout=START_TIMEOUT,
            watch=[component],
        )  # fmt: skip
        yield server
    finally:
        component.stop()
        # weed puts a gRPC socket per service in /tmp (no flag moves them) and leaves them.
        for service, port in (
            ("master", master_grpc),
            ("volume", volume_grpc),
            ("filer", filer_grpc),
        ):
            Path(f"/tmp/seaweedfs-{service}-grpc-{port}.sock").unlink(missing_ok=True)
