{{/*
Naming and labelling helpers shared by every template.
*/}}

{{/* The chart name, overridable with nameOverride. */}}
{{- define "ragagent-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every resource name: the release name, plus the chart name unless the release
name already contains it. Truncated to 63 characters because some name fields are DNS labels.
*/}}
{{- define "ragagent-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* chart label value: name-version, with + (invalid in labels) replaced. */}}
{{- define "ragagent-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the operator pods; stable across upgrades, so never add versions. */}}
{{- define "ragagent-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ragagent-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every resource the chart creates. */}}
{{- define "ragagent-operator.labels" -}}
helm.sh/chart: {{ include "ragagent-operator.chart" . }}
{{ include "ragagent-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ragagent
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "ragagent-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ragagent-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: a digest pins it; otherwise the tag, defaulting to appVersion. */}}
{{- define "ragagent-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* True (non-empty) in namespaced mode, the default: clusterWide is off. */}}
{{- define "ragagent-operator.namespaced" -}}
{{- if and .Values.clusterWide .Values.watchNamespaces -}}
{{- fail "clusterWide=true watches every namespace: leave watchNamespaces empty" -}}
{{- end -}}
{{- if not .Values.clusterWide }}true{{ end -}}
{{- end -}}

{{/* The namespaces of namespaced mode, as JSON: watchNamespaces, else the release namespace. */}}
{{- define "ragagent-operator.watchNamespaces" -}}
{{- if include "ragagent-operator.namespaced" . -}}
{{- default (list .Release.Namespace) .Values.watchNamespaces | toJson -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}
