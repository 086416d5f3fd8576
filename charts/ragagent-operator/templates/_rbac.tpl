{{/*
The permissions the operator needs on RagAgents and their children. The same list becomes one
ClusterRole (cluster mode) or one Role per watched namespace (namespaced mode). They mirror
manifests/rbac/rbac.yaml (a test compares them). Children are written with server-side apply
(patch, plus create for the first apply) and garbage-collected through ownerReferences; delete
is granted only where the operator removes a child itself (HPA off, backup off, ...).
*/}}
{{- define "ragagent-operator.workloadRules" -}}
# The RagAgent resource: watch it (patch: kopf removes the finalizer older versions left).
- apiGroups: ["ragagent.dev"]
  resources: ["ragagents"]
  verbs: ["get", "list", "watch", "patch"]
# Write conditions, replicas, endpoints and the last backup to the status subresource.
- apiGroups: ["ragagent.dev"]
  resources: ["ragagents/status"]
  verbs: ["get", "patch"]
# Owner references with blockOwnerDeletion need "update" on the owner's finalizers.
- apiGroups: ["ragagent.dev"]
  resources: ["ragagents/finalizers"]
  verbs: ["update"]
# Events about RagAgents (condition transitions, step errors).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# Children written by server-side apply (an apply that creates needs "create" as well) and
# removed when their feature is turned off:
# the agent's ServiceAccount, settings ConfigMap, Services, and backup/database volumes.
- apiGroups: [""]
  resources: ["serviceaccounts", "configmaps", "services", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Secrets: plain generated Secrets (opt-in kubernetes provider), and reading the Secrets a
# RagAgent references to hash their data, so a rotation rolls the pods. No list or watch.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "patch"]
# The agent Deployment and the managed PostgreSQL StatefulSet.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The agent's PodDisruptionBudget.
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "create", "patch", "delete"]
# The agent's HorizontalPodAutoscaler (deleted when autoscaling is turned off).
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "create", "patch", "delete"]
# Default-deny and allow NetworkPolicies around the agent and its database.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "create", "patch", "delete"]
# Ingestion, re-index and restore Jobs and backup CronJobs; Jobs are also watched to
# report backup, re-index and restore results.
- apiGroups: ["batch"]
  resources: ["jobs", "cronjobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Read only: a finished backup or restore Job's pod holds its result line (size, reason)
# as the container's termination message.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
# SealedSecrets the operator seals itself (strict scope).
- apiGroups: ["bitnami.com"]
  resources: ["sealedsecrets"]
  verbs: ["get", "create", "patch"]
# The agent's ServiceMonitor and PrometheusRule, only used when those CRDs exist.
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors", "prometheusrules"]
  verbs: ["get", "create", "patch", "delete"]
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
