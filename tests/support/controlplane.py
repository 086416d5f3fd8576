"""A real, local Kubernetes control plane for tests and demos, built from Go modules (no Docker).

``ControlPlane().start()`` runs etcd, kube-apiserver (TLS + RBAC), kube-controller-manager,
kube-scheduler, KWOK with one fake node, and the sealed-secrets controller with a key the tests
know. ``stop()`` kills every process group and removes the temp directory; it also runs at exit
and on SIGTERM/SIGHUP, and the children die with their parent even on SIGKILL. The API server
keeps an audit log of every write and its user at ``audit_log_path``.

CLI (used by ``make cluster-up|cluster-down|kubeconfig``)::

    python -m tests.support.controlplane up [--foreground] | down | kubeconfig
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import types
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.support import components, kubeconfig, pki, processes, sealed_secrets, tools

FAKE_NODE = components.FAKE_NODE
START_TIMEOUT = 60.0
PORT_ATTEMPTS = 3
WORKDIR_PREFIX = "ragagent-cluster-"
OWNER_FILE = "owner.pid"
SEALED_SECRETS_CRD = "sealedsecrets.bitnami.com"


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; ``str()`` includes its stderr, which is what a test failure needs."""

    def __str__(self) -> str:
        return f"{' '.join(self.cmd)} exited {self.returncode}: {self.stderr}"


def pick_ports() -> components.Ports:
    fields = dataclasses.fields(components.Ports)
    return components.Ports(*processes.free_ports(len(fields)))


class ControlPlane:
    """One disposable cluster. Attributes are valid after ``start()``."""

    def __init__(
        self,
        *,
        tools_bin: Path | None = None,
        workdir: Path | None = None,
        sealed_secrets: bool = True,
        pod_reachable: bool = False,
    ) -> None:
        """``sealed_secrets=False`` leaves out its controller and CRD (a missing prerequisite).
        ``pod_reachable=True`` lets pods of a real node reach the API server through the
        ``kubernetes`` Service (``components.build_apiserver_argv``)."""
        self.tools_bin = tools.require_tools(tools_bin)
        self.with_sealed_secrets = sealed_secrets
        self.pod_reachable = pod_reachable
        self.kubectl_timeout = 120.0  # per kubectl() call; a test may lower it for a proof
        self.workdir = workdir or _new_workdir()
        self._use_ports(pick_ports())
        self.kubeconfig_path = self.workdir / "kubeconfig"
        self.audit_policy_path = self.workdir / "audit-policy.json"
        # Who wrote what, one JSON line per write (``tests.support.audit`` reads it).
        self.audit_log_path = self.workdir / "audit.log"
        self._components: list[processes.Component] = []
        self._started = False
        self._stopped = False
        self._pki: pki.Pki | None = None

    # --- public helpers -------------------------------------------------------------------

    @property
    def ca_path(self) -> Path:
        return self._material.ca_cert

    @property
    def sealing_cert_path(self) -> Path:
        """Public certificate of the sealed-secrets controller (for ``kubeseal --cert``)."""
        return self._material.sealing_cert

    @property
    def sealing_key_path(self) -> Path:
        """PKCS#1 private key of the controller (for ``kubeseal --recovery-unseal``)."""
        return self._material.sealing_key

    @property
    def _material(self) -> pki.Pki:
        if self._pki is None:
            raise RuntimeError("the control plane has not been started")
        return self._pki

    def tool(self, name: str) -> Path:
        return self.tools_bin / name

    def env(self) -> dict[str, str]:
        """Variables for subprocesses: our KUBECONFIG, and our tools first on PATH."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig_path),
            "PATH": f"{self.tools_bin}:{os.environ['PATH']}",
        }

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Runs our kubectl as cluster admin; raises KubectlError (with stderr) when ``check``."""
        argv = [str(self.tool("kubectl")), f"--kubeconfig={self.kubeconfig_path}", *args]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=self.kubectl_timeout
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
        return result

    def kubeconfig_for_token(self, token: str, *, name: str = "token-user") -> Path:
        """A kubeconfig authenticating with a bearer token (e.g. a ServiceAccount's)."""
        path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".kubeconfig", dir=self.workdir)[1])
        config = kubeconfig.build_kubeconfig(
            server=self.server, ca_path=self.ca_path, user=kubeconfig.token_user(token), name=name
        )
        return kubeconfig.write_kubeconfig(path, config)

    def token_for(self, service_account: str, namespace: str, *, duration: str = "1h") -> str:
        """A fresh bound token for a ServiceAccount (TokenRequest API)."""
        args = ("create", "token", service_account, "-n", namespace, f"--duration={duration}")
        return self.kubectl(*args).stdout.strip()

    def wait_for_service_account(self, name: str, namespace: str, *, timeout: float = 30.0) -> None:
        """Waits until the controller-manager has made ServiceAccount ``name`` in ``namespace``."""
        processes.wait_until(
            f"ServiceAccount {namespace}/{name}",
            lambda: self._exists(f"serviceaccount/{name}", namespace),
            timeout=timeout,
            watch=self._components,
        )

    def apiserver_get(self, path: str) -> bytes:
        """GET ``path`` on the API server as admin; raises urllib.error.HTTPError on non-2xx."""
        url = self.server + path  # always https://127.0.0.1:<port>, never a user-given scheme
        with urllib.request.urlopen(url, context=self._admin_tls(), timeout=10) as response:  # noqa: S310
            return bytes(response.read())

    def apiserver_metrics(self) -> str:
        """The API server's Prometheus text. Its request counters add up every client; to
        count one client's writes, read ``audit_log_path`` (``tests.support.audit``)."""
        return self.apiserver_get("/metrics").decode()

    def _admin_tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_path))
        context.load_cert_chain(str(self._material.admin_cert), str(self._material.admin_key))
        return context

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> ControlPlane:
        """Starts everything; on any failure stops what was started and re-raises."""
        if self._started:
            raise RuntimeError("a ControlPlane can only be started once")
        self._started = True
        _install_teardown(self)
        with processes.undone_on_failure(self.stop):
            self._pki = pki.write_pki(self.workdir / "pki")
            self._start_with_retries()
        return self

    def _start_with_retries(self) -> None:
        """Another program may take one of our free ports before we bind it: then re-pick them."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._start_all()
                return
            except processes.ProcessDiedError as exc:
                if attempt == PORT_ATTEMPTS or "address already in use" not in str(exc):
                    raise
                self._stop_components()
                shutil.rmtree(self.workdir / "etcd", ignore_errors=True)
                self._use_ports(pick_ports())

    def _use_ports(self, ports: components.Ports) -> None:
        self.ports = ports
        self.server = f"https://127.0.0.1:{ports.apiserver}"

    def _start_all(self) -> None:
        self._write_admin_kubeconfig()
        self._start_etcd()
        self._start_apiserver()
        self._start_controllers()
        if self.with_sealed_secrets:
            self._start_sealed_secrets()
        self._wait_settled()

    def stop(self) -> None:
        """Stops every component (newest first) and deletes the work directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_components()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_components(self) -> None:
        while self._components:
            self._components.pop().stop()

    @contextlib.contextmanager
    def stopped(self, name: str) -> Iterator[None]:
        """Stops ``etcd`` or ``kube-apiserver`` for the block, then starts it on the same ports,
        data and certificates, and returns once the API server is ready (the soak's faults)."""
        starts = {"etcd": self._start_etcd, "kube-apiserver": self._start_apiserver}
        index = [component.name for component in self._components].index(name)
        old = self._components.pop(index)  # a dead watched component would fail the waits
        old.stop()
        old.log_path.replace(old.log_path.with_suffix(f".{time.time_ns()}.log"))  # kept
        try:
            yield
        finally:
            starts[name]()
            self._components.insert(index, self._components.pop())  # stop order unchanged
            self._wait("kube-apiserver /readyz", self._apiserver_ready)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, name: str, argv: list[str], **env: str) -> processes.Component:
        component = processes.start(name, argv, log_dir=self.workdir, env=env)
        self._components.append(component)
        return component

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        processes.wait_until(what, ready, timeout=START_TIMEOUT, watch=self._components)

    def _write_admin_kubeconfig(self) -> None:
        user = kubeconfig.cert_user(self._material.admin_cert, self._material.admin_key)
        config = kubeconfig.build_kubeconfig(
            server=self.server, ca_path=self.ca_path, user=user, name="admin"
        )
        kubeconfig.write_kubeconfig(self.kubeconfig_path, config)

    # --- components -----------------------------------------------------------------------

    def _start_etcd(self) -> None:
        argv = components.build_etcd_argv(
            self.tool("etcd"), data_dir=self.workdir / "etcd", ports=self.ports
        )
        self._run("etcd", argv)
        health = f"http://127.0.0.1:{self.ports.etcd}/health"
        self._wait("etcd /health", lambda: processes.http_ok(health))

    def _start_apiserver(self) -> None:
        argv = components.build_apiserver_argv(
            self.tool("kube-apiserver"),
            material=self._material,
            ports=self.ports,
            cert_dir=self.workdir / "apiserver-certs",
            pod_reachable=self.pod_reachable,
        )
        self.audit_policy_path.write_text(json.dumps(components.build_audit_policy(), indent=2))
        audit = components.build_audit_flags(policy=self.audit_policy_path, log=self.audit_log_path)
        self._run("kube-apiserver", [*argv, *audit])
        self._wait("kube-apiserver /readyz", self._apiserver_ready)

    def _apiserver_ready(self) -> bool:
        try:
            return self.apiserver_get("/readyz") == b"ok"
        except (OSError, urllib.error.HTTPError):
            return False

    def _start_controllers(self) -> None:
        kc, tool = self.kubeconfig_path, self.tool
        self._run(
            "kube-controller-manager",
            components.build_controller_manager_argv(
                tool("kube-controller-manager"),
                kubeconfig=kc,
                material=self._material,
                ports=self.ports,
            ),
        )
        self._run(
            "kube-scheduler",
            components.build_scheduler_argv(
                tool("kube-scheduler"), kubeconfig=kc, ports=self.ports
            ),
        )
        self.kubectl("apply", "-f", "-", input=json.dumps(components.build_fake_node()))
        self._run("kwok", components.build_kwok_argv(tool("kwok"), kubeconfig=kc, ports=self.ports))

    def _start_sealed_secrets(self) -> None:
        m = self._material
        key_secret = sealed_secrets.build_key_secret(
            m.sealing_cert.read_bytes(), m.sealing_key.read_bytes()
        )
        self.kubectl(
            "apply", "-f", str(sealed_secrets.CRD_PATH), "-f", str(sealed_secrets.RBAC_PATH)
        )
        self.kubectl("apply", "-f", "-", input=json.dumps(key_secret))
        token = self.token_for(
            sealed_secrets.SERVICE_ACCOUNT, sealed_secrets.NAMESPACE, duration="48h"
        )
        sa_dir = sealed_secrets.write_service_account_dir(
            self.workdir / "sa", token=token, ca_pem=m.ca_cert.read_bytes()
        )
        self._wait(f"CRD {SEALED_SECRETS_CRD} Established", self._sealed_secrets_crd_ready)
        component, port = sealed_secrets.start_controller(
            self.tool("sealed-secrets-controller"),
            sa_dir=sa_dir,
            api_port=self.ports.apiserver,
            log_dir=self.workdir,
        )
        self._components.append(component)
        expected = m.sealing_cert.read_bytes().strip()
        self._wait(
            "sealed-secrets controller with our key",
            lambda: (sealed_secrets.served_cert(port) or b"").strip() == expected,
        )

    def _sealed_secrets_crd_ready(self) -> bool:
        # Not `kubectl wait`: it fails at once on a new CRD whose status has no conditions yet.
        jsonpath = '{.status.conditions[?(@.type=="Established")].status}'
        argv = ("get", "crd", SEALED_SECRETS_CRD, "-o", f"jsonpath={jsonpath}")
        return self.kubectl(*argv, check=False).stdout.strip() == "True"

    def _wait_settled(self) -> None:
        self._wait(f"node {FAKE_NODE} Ready", self._node_ready)
        self.wait_for_service_account("default", "default", timeout=START_TIMEOUT)

    def _node_ready(self) -> bool:
        jsonpath = '{.status.conditions[?(@.type=="Ready")].status}'
        result = self.kubectl("get", "node", FAKE_NODE, "-o", f"jsonpath={jsonpath}", check=False)
        return result.stdout.strip() == "True"

    def _exists(self, resource: str, namespace: str) -> bool:
        argv = ("get", resource, "-n", namespace, "--ignore-not-found", "-o", "name")
        return self.kubectl(*argv, check=False).stdout.strip() != ""


def _new_workdir() -> Path:
    """A fresh temp dir stamped with our pid, after removing those of dead owners.

    Only a SIGKILLed owner leaves its dir behind (its processes die with it), so this sweep
    keeps /tmp from filling up across interrupted runs.
    """
    for stale in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        if _owner_is_dead(stale):
            shutil.rmtree(stale, ignore_errors=True)
    workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    (workdir / OWNER_FILE).write_text(str(os.getpid()))
    return workdir


def _owner_is_dead(workdir: Path) -> bool:
    try:
        pid = int((workdir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return False  # still being created, or not ours to judge
    return not processes.is_alive(pid)  # another user's process counts as alive


def _install_teardown(cluster: ControlPlane) -> None:
    """Stops the cluster at interpreter exit, and turns SIGTERM/SIGHUP into a clean exit."""
    atexit.register(cluster.stop)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum: int, _frame: types.FrameType | None) -> None:
    # SystemExit unwinds through fixtures and context managers, then atexit runs.
    raise SystemExit(128 + signum)


def main() -> None:
    from tests.support import cluster_cli

    cluster_cli.main()


if __name__ == "__main__":
    main()
