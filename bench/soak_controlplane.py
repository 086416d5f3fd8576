"""Control-plane faults while RagAgents change (issue 17, soak scenarios 5 and 6).

On a control plane of its own (never the tests' shared one: it is restarted), the real operator
runs under its manifests' RBAC while a churn thread creates, edits (replicas, knowledge, chat
model) and deletes RagAgents. Meanwhile kube-apiserver, then etcd, is stopped and started again
on the same ports, data and certificates. Each restart must hold:

- the operator resumes within RESUME_LIMIT_SECONDS of the API server being ready again: its
  first successful write, and its write of the probe RagAgent's Deployment after a change made
  then, which only its RagAgent watch brings (times from the API server's audit log);
- it converges: every RagAgent's status is current and Reconciled, its children match its spec
  (``bench._soak_cluster``), and a deleted RagAgent's children are gone;
- no RagAgent has two children in one role (``bench._soak_cluster.duplicates``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from bench import _soak_cluster as agents
from bench._soak import Outcome
from tests.operator.integration import harness
from tests.support import audit, controlplane

log = logging.getLogger(__name__)
NAMESPACE = "soak"
PROBE = "probe"  # a RagAgent only patch_probe changes
RESUME_LIMIT_SECONDS = 10.0
# A round that took longer to converge keeps its logs too: one resync interval means some
# change was left to the periodic resync rather than applied by its own event.
SLOW_CONVERGE_SECONDS = 30.0
CONVERGE_TIMEOUT = 180.0
REQUEST_TIMEOUT = "3s"  # a churn request to a stopped server fails after this, then the next
COMPONENTS = ("kube-apiserver", "etcd")
# The production default, not the harness's 3 s: a resync that soon would write after any
# restart by itself, and hide whether the operator's watches came back.
RESYNC_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class Sizes:
    agents: int
    # One restart per entry, the component staying stopped this long (its start comes on top):
    # kopf's retries have their own rhythm, so different outages meet them at other phases.
    downs: tuple[float, ...]
    churn_seconds: float  # churn before the stop, and again after the restart


SHORT = Sizes(agents=3, downs=(2.0,), churn_seconds=2.0)
FULL = Sizes(agents=10, downs=(2.0, 10.0, 25.0), churn_seconds=5.0)


@dataclasses.dataclass
class Soak:
    """The running control plane, the operator and the RagAgents' names."""

    plane: controlplane.ControlPlane
    operator: harness.Operator
    names: list[str]  # the RagAgents the churn changes
    probe_patches: int = 0


class Churn(threading.Thread):
    """Creates, edits and deletes RagAgents in turn until stopped; a request the control plane
    fails (it is down) counts as failed, and the next one goes on."""

    def __init__(self, soak: Soak) -> None:
        super().__init__(daemon=True)
        self.soak = soak
        self.done = threading.Event()
        self.ok = self.failed = 0
        self._steps = itertools.count()

    def run(self) -> None:
        while not self.done.is_set():
            step = next(self._steps)
            name = self.soak.names[step % len(self.soak.names)]
            args, text = agents.build_change(name, step // len(self.soak.names))
            result = self.soak.plane.kubectl(
                f"--request-timeout={REQUEST_TIMEOUT}", "-n", NAMESPACE, *args,
                input=text, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                self.ok += 1
            else:
                self.failed += 1

    def stop(self) -> None:
        self.done.set()
        self.join()


@contextlib.contextmanager
def soak_plane(count: int) -> Iterator[Soak]:
    """A control plane of its own with the operator, and ``count`` RagAgents Reconciled."""
    with controlplane.ControlPlane(sealed_secrets=False) as plane:
        kubeconfig = harness.install(plane)
        # DEBUG: kopf then logs each watch stream's start, end and restart, which is what a
        # round that resumed late (its log kept) must show to say where the time went.
        debug = {"RAGAGENT_OPERATOR_LOG_LEVEL": "DEBUG"}
        operator = harness.start_operator(
            plane, kubeconfig, "soak", resync_seconds=RESYNC_SECONDS, extra_env=debug
        )
        try:
            soak = Soak(plane, operator, [f"agent-{index:02d}" for index in range(count)])
            prepare(soak)
            yield soak
        finally:
            harness.stop(operator)


def prepare(soak: Soak) -> None:
    """The namespace, its Secret grant, the database Secret and the knowledge ConfigMaps, then
    every RagAgent, each waited for."""
    plane = soak.plane
    plane.kubectl("create", "namespace", NAMESPACE)
    harness.grant_secrets(plane, NAMESPACE)
    for manifest in agents.build_inputs():
        plane.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(manifest))
    for name in [PROBE, *soak.names]:
        plane.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=agents.agent_yaml(name, 0))
    wait_converged(soak, time.monotonic() + CONVERGE_TIMEOUT)


def wait_converged(soak: Soak, deadline: float) -> list[str]:
    """Polls until the namespace holds no problem; returns the last problems seen (none when
    it converged before ``deadline``)."""
    problems = ["not checked yet"]
    while time.monotonic() < deadline:
        soak.operator.process.poll()
        if soak.operator.process.returncode is not None:
            return [f"the operator exited with {soak.operator.process.returncode}"]
        seen, problems = problems, agents.problems(soak.plane, NAMESPACE)
        if not problems:
            return []
        if problems != seen:
            log.info("not converged yet: %s", "; ".join(problems[:3]))
        time.sleep(1.0)
    return problems


def restart_round(
    soak: Soak, component: str, down: float, churn_seconds: float, outcome: Outcome, label: str
) -> None:
    """One restart of ``component`` (stopped for ``down`` seconds) in the middle of churn,
    and what must hold after it."""
    churn = Churn(soak)
    churn.start()
    try:
        churn.done.wait(churn_seconds)
        started = time.monotonic()
        with soak.plane.stopped(component):
            churn.done.wait(down)
        ready_wall, ready = time.time(), time.monotonic()
        log.info("%s: the API server is ready again", label)
        outcome.numbers[f"{label}: outage s"] = round(ready - started, 1)
        patched = patch_probe(soak)
        churn.done.wait(churn_seconds)
    finally:
        churn.stop()
    outcome.numbers[f"{label}: changes ok / failed"] = f"{churn.ok} / {churn.failed}"
    problems = wait_converged(soak, ready + CONVERGE_TIMEOUT)
    converged = time.monotonic() - ready
    outcome.numbers[f"{label}: converged s"] = round(converged, 1)
    audit_log = soak.plane.audit_log_path
    resumed = since(first_write_after(audit_log, ready_wall), ready_wall)
    picked = since(first_write_after(audit_log, patched, PROBE), patched)
    outcome.numbers[f"{label}: first operator write s"] = resumed
    outcome.numbers[f"{label}: probe change made s"] = since(patched, ready_wall)
    outcome.numbers[f"{label}: probe change applied s"] = picked
    late = False
    for what, seconds, start in (
        ("resumed", resumed, "the API server was ready"),
        ("applied the probe change", picked, "the change was made"),
    ):
        held = isinstance(seconds, float) and seconds <= RESUME_LIMIT_SECONDS
        late |= not held
        outcome.check(f"{label}: operator {what} within {RESUME_LIMIT_SECONDS:.0f} s", held,
                      f"{seconds} s after {start}")  # fmt: skip
    if late or converged > SLOW_CONVERGE_SECONDS:
        outcome.numbers[f"{label}: logs kept in"] = keep_logs(soak)
    outcome.check(f"{label}: converged", not problems, "; ".join(problems[:5]))
    duplicated = agents.duplicates(soak.plane, NAMESPACE)
    outcome.check(f"{label}: no duplicate children", not duplicated, "; ".join(duplicated[:5]))


def keep_logs(soak: Soak) -> str:
    """Copies the operator's log and the audit log out of the control plane's directory, which
    is removed at the end, so that a late resumption can be read afterwards; returns where."""
    kept = Path(tempfile.mkdtemp(prefix="ragagent-soak-logs-"))
    for path in (soak.operator.log_path, soak.plane.audit_log_path):
        shutil.copy(path, kept / path.name)
    return str(kept)


def patch_probe(soak: Soak) -> float:
    """Changes the probe RagAgent's replicas; returns when (epoch seconds) the request that
    made the change was sent: after an etcd restart the server may refuse RagAgent writes
    for seconds after it is ready, and the operator cannot apply a change not made yet.
    Nothing else changes the probe, and only a watch event (or the minute's resync) tells
    the operator, so its next write of the probe's Deployment shows its RagAgent watch back."""
    soak.probe_patches += 1
    replicas = 2 + soak.probe_patches % 2  # it starts at 1: each patch changes it
    patch = json.dumps({"spec": {"replicas": replicas}})
    return run_until_done(soak.plane, "patch", "ragagent", PROBE, "--type=merge", "-p", patch)


def run_until_done(plane: controlplane.ControlPlane, *args: str, text: str | None = None) -> float:
    """``kubectl -n NAMESPACE args``, again until it succeeds: just after a restart the API
    server is ready before every resource is (CRDs answer 429 while their storage starts).
    Returns when (epoch seconds) the attempt that succeeded was started."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    timeout = f"--request-timeout={REQUEST_TIMEOUT}"
    while True:
        sent = time.time()
        if not plane.kubectl(timeout, "-n", NAMESPACE, *args, input=text, check=False).returncode:
            return sent
        if time.monotonic() > deadline:
            raise TimeoutError(f"kubectl {' '.join(args)} kept failing")
        time.sleep(0.2)


def since(moment: float | None, start: float) -> float | str:
    return "never" if moment is None else round(moment - start, 2)


def first_write_after(log: Path, start: float, deployment: str | None = None) -> float | None:
    """When (epoch seconds) the API server received the operator's first successful write to
    its kinds (only to Deployment ``deployment`` when given) at or after ``start``; None when
    there was none. Peering keep-alives are left out: they would show the process alive, not
    the operator working again."""
    with log.open(errors="replace") as lines:
        for line in lines:
            write = audit.parse_write(line)
            if (
                write is None
                or write.user != harness.OPERATOR_USER
                or write.resource not in harness.OPERATOR_RESOURCES
                or not 200 <= write.code < 300
                or (
                    deployment is not None
                    and (write.resource, write.name) != ("deployments", deployment)
                )
            ):
                continue
            received = _epoch(json.loads(line)["requestReceivedTimestamp"])
            if received >= start:
                return received
    return None


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_component(component: str, sizes: Sizes, outcome: Outcome) -> None:
    """Restarts of ``component`` (``sizes.downs``) on a control plane of its own."""
    with soak_plane(sizes.agents) as soak:
        for index, down in enumerate(sizes.downs, start=1):
            label = f"{component} restart {index}"
            restart_round(soak, component, down, sizes.churn_seconds, outcome, label)


def run(short: bool) -> Outcome:
    """Scenarios 5 and 6: restarts of kube-apiserver, then of etcd, while RagAgents change."""
    sizes = SHORT if short else FULL
    outcome = Outcome("controlplane")
    outcome.numbers["RagAgents"] = sizes.agents
    for component in COMPONENTS:
        run_component(component, sizes, outcome)
    return outcome
