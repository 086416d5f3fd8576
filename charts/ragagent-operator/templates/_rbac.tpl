{{/*
The permissions the operator needs on RagAgents and their children: exactly what the reconcile
uses (tests/operator/integration/test_permissions_k8s.py lists it and fails on anything more). The same
list becomes one Role per watched namespace (namespaced mode, the default) or one ClusterRole
(cluster mode). They mirror manifests/rbac (a test compares them). Children are written with
server-side apply (patch, plus create for the first apply) and garbage-collected through
ownerReferences; delete is granted only where the operator removes a child itself (HPA off,
backup off, ...).
*/}}
{{- define "ragagent-operator.workloadRules" -}}
# The RagAgent resource: read it (retries, resync), list and watch it (kopf); patch because
# kopf removes the finalizer that older operator versions left on a RagAgent.
- apiGroups: ["ragagent.dev"]
  resources: ["ragagents"]
  verbs: ["get", "list", "watch", "patch"]
# Write conditions, replicas, endpoints and the last backup to the status subresource.
- apiGroups: ["ragagent.dev"]
  resources: ["ragagents/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion need "update" on the owner's finalizers (checked by
# the OwnerReferencesPermissionEnforcement admission plugin; no request is ever sent).
- apiGroups: ["ragagent.dev"]
  resources: ["ragagents/finalizers"]
  verbs: ["update"]
# Events about RagAgents (condition transitions, step errors, child conflicts).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# The agent's ServiceAccount, settings ConfigMap and backup volume, written by server-side
# apply (an apply that creates needs "create" as well); get: compare before writing, and read
# the ConfigMaps of knowledge sources. Never deleted by the operator (garbage collection does).
- apiGroups: [""]
  resources: ["serviceaccounts", "configmaps", "persistentvolumeclaims"]
  verbs: ["get", "create", "patch"]
# The agent and database Services; the database Service is deleted when the database
# becomes external.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "create", "patch", "delete"]
# The agent Deployment, watched (kopf) to refresh the RagAgent's status.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
# The managed PostgreSQL StatefulSet, watched like the Deployment; deleted when the database
# becomes external.
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The agent's PodDisruptionBudget.
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "create", "patch"]
# The agent's HorizontalPodAutoscaler (deleted when autoscaling is turned off, or for a restore).
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "create", "patch", "delete"]
# Default-deny and allow NetworkPolicies around the agent and its database.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "create", "patch", "delete"]
# Ingestion, re-index, restore and pre-reindex backup Jobs: listed and watched to report their
# results, deleted when their content is superseded.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The backup CronJob (deleted when backups are turned off).
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["get", "create", "patch", "delete"]
# Read only: a finished Job's pod holds its result line (size, reason) as the container's
# termination message, and a failing agent pod says why it fails.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# SealedSecrets the operator seals itself (strict scope).
- apiGroups: ["bitnami.com"]
  resources: ["sealedsecrets"]
  verbs: ["get", "create", "patch"]
# The agent's ServiceMonitor and PrometheusRule, only used when those CRDs exist.
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors", "prometheusrules"]
  verbs: ["get", "create", "patch", "delete"]
{{- end -}}

{{/*
Secrets, kept apart from the workload rules: in namespaced mode they join each watched
namespace's Role; in cluster mode they are a ClusterRole bound only per namespace (RoleBindings
in rbac.secretNamespaces), so no mode grants Secret access cluster-wide.
*/}}
{{- define "ragagent-operator.secretRules" -}}
# get: hash the data of the Secrets a RagAgent references (a rotation rolls the pods) and
# check they are labelled ragagent.dev/use=true; create/patch: the generated Secret of the
# opt-in kubernetes provider, and a managed database's <name>-postgres-tls (its CA and
# server certificate, read back to be renewed). No list or watch.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "patch"]
{{- end -}}

{{/* kopf's framework needs in cluster mode: discovery of CRDs and namespaces, and peering. */}}
{{- define "ragagent-operator.clusterPeeringRules" -}}
# Framework (kopf): notice CRDs and namespaces appearing, to start or stop watching.
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{ include "ragagent-operator.peeringRules" . }}
{{- end -}}

{{/* Peering is cluster-wide in both modes (one ClusterKopfPeering). */}}
{{- define "ragagent-operator.peeringRules" -}}
# Framework (kopf): peering between the operator replicas, so only one of them is active.
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings"]
  verbs: ["list", "watch", "patch", "get"]
{{- end -}}
