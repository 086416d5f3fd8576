"""Reading the test API server's audit log (``tests.support.audit``).

``audit-sample.jsonl`` holds real lines from our kube-apiserver: the first twelve written under
the control plane's own policy (kubectl, the controller manager, the scheduler and a refused
ServiceAccount), the last four under a log-everything policy, for what ours never records.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import audit, components, controlplane

SAMPLE = Path(__file__).with_name("audit-sample.jsonl")
# The admin certificate's user: kubectl in tests, and every controller of the control plane.
ADMIN = "ragagent-admin"
REFUSED = "system:serviceaccount:sample:default"


def sample_lines() -> list[str]:
    return SAMPLE.read_text().splitlines()


@pytest.fixture(scope="module")
def writes() -> list[audit.Write]:
    return audit.parse_writes(sample_lines())


def test_each_completed_write_is_read_with_its_user_object_and_response_code(
    writes: list[audit.Write],
) -> None:
    assert len(writes) == 12
    # A server-side apply that creates the object is still a patch.
    assert writes[1] == audit.Write(ADMIN, "patch", "configmaps", "", "sample", "applied", 201)
    assert writes[4] == audit.Write(ADMIN, "update", "deployments", "status", "sample", "web", 409)
    # A refused create and a pod named by generateName name no object.
    assert writes[10] == audit.Write(REFUSED, "create", "configmaps", "", "sample", "", 403)
    assert writes[5].name == ""


def test_earlier_stages_reads_and_non_resource_requests_are_not_writes() -> None:
    requested, got, version, listed = sample_lines()[12:]

    assert '"stage":"RequestReceived"' in requested
    assert '"verb":"create"' in requested
    assert all(audit.parse_write(line) is None for line in (requested, got, version, listed))
    assert audit.parse_write("  \n") is None


def test_reads_are_their_completions_and_never_a_write() -> None:
    requested, got, version, listed = sample_lines()[12:]

    reads = [audit.parse_read(line) for line in (requested, got, version, listed)]
    assert reads == [
        None,  # an earlier stage
        audit.Write(ADMIN, "get", "configmaps", "", "reads", "seen", 200),
        None,  # a non-resource URL
        audit.Write(ADMIN, "list", "configmaps", "", "reads", "", 200),
    ]
    assert all(audit.parse_read(line) is None for line in sample_lines()[:12])  # writes
    watch = got.replace('"verb":"get"', '"verb":"watch"')
    watch = watch.replace('"stage":"ResponseComplete"', '"stage":"ResponseStarted"')
    assert audit.parse_read(watch) == audit.Write(  # a watch still open
        ADMIN, "watch", "configmaps", "", "reads", "seen", 200
    )


def test_object_writes_are_one_users_whole_objects_refused_ones_included(
    writes: list[audit.Write],
) -> None:
    admin = audit.object_writes(writes, user=ADMIN, resources={"configmaps", "deployments"})
    refused = audit.object_writes(writes, user=REFUSED, resources={"configmaps"})

    # The deployments' status update and scale patch are subresources, so not counted.
    assert audit.tally(admin) == {
        "create configmaps": 1,
        "patch configmaps": 2,
        "delete configmaps": 2,
    }
    assert [(write.verb, write.code) for write in refused] == [("create", 403)]


def test_tallies_name_subresources_and_count_http_methods(writes: list[audit.Write]) -> None:
    assert audit.tally(writes)["create pods/binding"] == 1
    assert audit.by_method(writes) == {"POST": 6, "PATCH": 3, "PUT": 1, "DELETE": 2}
    assert audit.Write("u", "deletecollection", "pods").method == "DELETE"


def test_a_window_reads_only_complete_lines_logged_after_its_offset(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    first, second, *_ = sample_lines()
    assert audit.offset(log) == 0  # no log yet
    log.write_text(first + "\n" + second[:100])  # the API server is mid-line

    since = audit.offset(log)
    with log.open("a") as sink:
        sink.write(second[100:] + "\n")

    assert since == len(first) + 1
    assert [write.name for write in audit.read_writes(log, since)] == ["applied"]
    assert [write.name for write in audit.read_writes(log, 0)] == ["settings", "applied"]


def test_a_log_shorter_than_the_offset_is_an_error_not_zero_writes(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("\n".join(sample_lines()[:3]) + "\n")
    since = audit.offset(log)
    log.write_text("")  # rotated away

    with pytest.raises(audit.AuditLogRotatedError):
        audit.read_writes(log, since)


def test_the_policy_records_writes_once_at_metadata_level_and_the_log_never_rotates() -> None:
    policy = components.build_audit_policy()
    flags = components.build_audit_flags(policy=Path("/p.json"), log=Path("/audit.log"))

    assert policy["omitStages"] == ["RequestReceived"]
    assert {"level": "Metadata", "verbs": sorted(audit.WRITE_VERBS)} in policy["rules"]
    assert policy["rules"][-1] == {"level": "None"}  # no reads but the audited namespace's
    audited = {"level": "Metadata", "userGroups": ["system:serviceaccounts:audited-reads"]}
    assert policy["rules"].index(audited) < len(policy["rules"]) - 1
    assert "--audit-log-maxsize=0" in flags  # one plain file: offsets stay valid
    assert "--audit-log-format=json" in flags


@pytest.mark.k8s
def test_the_control_planes_audit_log_names_the_user_of_each_write(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    since = audit.offset(cluster.audit_log_path)
    cluster.kubectl("create", "configmap", "mine", "-n", namespace)
    kubeconfig = cluster.kubeconfig_for_token(cluster.token_for("default", namespace))
    cluster.kubectl(
        f"--kubeconfig={kubeconfig}", "create", "configmap", "theirs", "-n", namespace, check=False
    )

    written = [
        (write.user, write.verb, write.code)
        for write in audit.read_writes(cluster.audit_log_path, since)
        if write.resource == "configmaps" and write.namespace == namespace
        and write.name != "kube-root-ca.crt"  # the controller manager's, in every namespace
    ]  # fmt: skip
    service_account = f"system:serviceaccount:{namespace}:default"
    assert written == [(ADMIN, "create", 201), (service_account, "create", 403)]
