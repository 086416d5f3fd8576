"""pod_health names a failing container and its last error from pod status as the kubelet
writes it; Ready takes that reason instead of a bare "waiting"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ragagent_operator import conditions, pod_health
from ragagent_operator.conditions import Reason, Type

# Pods as the API server returned them on the real node (tests/e2e), metadata trimmed: an
# agent whose database host does not resolve, and a managed PostgreSQL whose image cannot be
# pulled without a registry.
PODS = Path(__file__).resolve().parents[1] / "data" / "pods"
# The agent's termination message is the tail of its JSON log (FallbackToLogsOnError): the
# kubelet keeps the last 2 KiB, so the traceback's record is cut at the front.
DB_ERROR = "ragagent.core.errors.DatabaseUnavailable: could not connect to the database"


def real_pod(name: str) -> dict[str, Any]:
    return dict(json.loads((PODS / name).read_text()))


def container(
    *,
    waiting: dict[str, str] | None = None,
    terminated: dict[str, Any] | None = None,
    restarts: int = 0,
    ready: bool = False,
) -> dict[str, Any]:
    state = {"waiting": waiting} if waiting else {"running": {"startedAt": "2026-12-03T18:00:00Z"}}
    return {
        "name": "agent",
        "image": "localhost/ragagent-agent:0ba9",
        "ready": ready,
        "restartCount": restarts,
        "started": not waiting,
        "state": state,
        "lastState": {"terminated": terminated} if terminated else {},
    }


def pod(name: str, created: str, *statuses: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "status": {"phase": "Running", "containerStatuses": list(statuses)},
    }


CRASHED = real_pod("agent-crash-looping.json")["status"]["containerStatuses"][0]["lastState"][
    "terminated"
]
BACKOFF = {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container"}


def test_a_crash_looping_container_is_named_with_its_exit_code_and_exception() -> None:
    problem = pod_health.build_pod_problem([real_pod("agent-crash-looping.json")])
    assert problem is not None
    assert problem.reason == Reason.CONTAINER_CRASH_LOOPING
    assert problem.message == (
        "pod docs-66b88dd557-6pn2c container agent: CrashLoopBackOff (3 restarts); "
        f"last exit code 3 (Error): {DB_ERROR}"
    )


def test_an_image_that_cannot_be_pulled_names_the_image_and_the_kubelets_error() -> None:
    problem = pod_health.build_pod_problem([real_pod("postgres-image-pull-backoff.json")])
    assert problem is not None
    assert problem.reason == Reason.IMAGE_PULL_FAILED
    assert problem.message.startswith(
        'pod docs-postgres-0 container postgres: ImagePullBackOff; Back-off pulling image "pgvector'
    )
    assert len(problem.message) < 400  # the kubelet's long error is cut


def test_a_container_running_again_after_a_crash_but_not_ready_is_still_crash_looping() -> None:
    between = pod("docs-5d8f-x2", "2026-12-03T18:00:00Z", container(terminated=CRASHED, restarts=1))
    problem = pod_health.build_pod_problem([between])
    assert problem is not None
    assert problem.reason == Reason.CONTAINER_CRASH_LOOPING
    assert problem.message.endswith(f"restarted 1 time; last exit code 3 (Error): {DB_ERROR}")


def test_an_image_that_cannot_be_pulled_names_the_kubelets_message() -> None:
    message = 'Back-off pulling image "localhost/ragagent-agent:nope"'
    pulling = pod(
        "docs-1-a",
        "2026-12-03T18:00:00Z",
        container(waiting={"reason": "ImagePullBackOff", "message": message}),
    )
    problem = pod_health.build_pod_problem([pulling])
    assert problem == pod_health.PodProblem(
        Reason.IMAGE_PULL_FAILED, f"pod docs-1-a container agent: ImagePullBackOff; {message}"
    )


def test_a_missing_secret_key_is_a_config_error_in_an_init_container_too() -> None:
    message = "couldn't find key url in Secret t/docs-db"
    broken = pod("docs-1-a", "2026-12-03T18:00:00Z")
    init = {
        **container(waiting={"reason": "CreateContainerConfigError", "message": message}),
        "name": "migrate",
    }
    broken["status"]["initContainerStatuses"] = [init]
    problem = pod_health.build_pod_problem([broken])
    assert problem is not None
    assert problem.reason == Reason.CONTAINER_CONFIG_ERROR
    assert (
        problem.message == f"pod docs-1-a container migrate: CreateContainerConfigError; {message}"
    )


def test_starting_ready_and_recovered_containers_are_no_problem() -> None:
    starting = pod("a", "2026-12-03T18:00:00Z", container(waiting={"reason": "ContainerCreating"}))
    serving = pod("b", "2026-12-03T18:00:00Z", container(ready=True))
    recovered = pod(
        "c", "2026-12-03T18:00:00Z", container(terminated=CRASHED, restarts=1, ready=True)
    )
    pending = {"metadata": {"name": "d"}, "status": {"phase": "Pending"}}
    assert pod_health.build_pod_problem([starting, serving, recovered, pending]) is None


def test_the_newest_failing_pod_is_reported() -> None:
    old = pod("old", "2026-12-03T17:00:00Z", container(waiting=BACKOFF, terminated=CRASHED))
    new = pod("new", "2026-12-03T18:00:00Z", container(waiting={"reason": "ErrImagePull"}))
    problem = pod_health.build_pod_problem([old, new])
    assert problem is not None
    assert problem.message == "pod new container agent: ErrImagePull"


def test_the_last_error_of_a_plain_log_is_its_last_line_and_long_ones_are_cut() -> None:
    assert pod_health.build_last_error("starting\nlistening failed: port in use\n") == (
        "listening failed: port in use"
    )
    assert pod_health.build_last_error("") == ""
    cut = pod_health.build_last_error("x" * 1000)
    assert len(cut) == pod_health.ERROR_CHARS
    assert cut.endswith("...")


def test_ready_takes_the_reason_and_message_of_a_failing_container() -> None:
    message = "0 of 1 pods ready; pod docs-1-a container agent: CrashLoopBackOff"
    inputs: dict[str, conditions.Condition] = {
        Type.DEPLOYMENT_AVAILABLE: conditions.build_condition(
            Type.DEPLOYMENT_AVAILABLE, False, Reason.CONTAINER_CRASH_LOOPING, message
        ),
        Type.SECRETS_READY: conditions.build_condition(
            Type.SECRETS_READY, True, Reason.SECRETS_PRESENT
        ),
        Type.DATABASE_READY: conditions.build_condition(
            Type.DATABASE_READY, True, Reason.POSTGRES_READY
        ),
    }
    ready = conditions.build_ready(inputs)
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        Reason.CONTAINER_CRASH_LOOPING,
        message,
    )
