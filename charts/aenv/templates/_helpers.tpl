{{- define "aenv.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aenv.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aenv.labels" -}}
{{ include "aenv.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "aenv.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aenv.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aenv.leaseName" -}}
{{- default (include "aenv.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/*
The rules aenv needs in a namespace it serves: exactly what the operator reads and writes, no wildcard.
The same rules go into the ClusterRole (every namespace) or into one Role per watched namespace.
*/}}
{{- define "aenv.namespacedRules" -}}
# The AnalyticsEnvironments: watched, finalizer and kopf's annotations patched, status written; deleted when one
# expires (spec.ttl, spec.expiresAt).
- apiGroups: ["aenv.dev"]
  resources: ["analyticsenvironments"]
  verbs: ["get", "list", "watch", "patch", "delete"]
- apiGroups: ["aenv.dev"]
  resources: ["analyticsenvironments/status"]
  verbs: ["get", "patch"]
# Events of each environment's transitions.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# What aenv owns: the connection Secret, the workloads' ServiceAccount and Services (server-side apply) and their
# ReplicaSets; watched so that a deletion or edit heals within seconds. In mode ack also the Secrets holding generated
# values that ACK puts in Secrets Manager: a rotation deletes the version before the last, and a Retain releases the
# current one from the environment's ownership (patch).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# Server-side apply needs `create` besides `patch` for an object that does not exist yet.
- apiGroups: [""]
  resources: ["services", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Traffic objects aenv writes weights into but does not own. An HTTPRoute is read and replaced at the version read
# (`update`), so that a concurrent edit of its rules is not overwritten.
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "update"]
# Database migrations: the ConfigMap source read; a Job source's Job created and its outcome read. Notifications: the
# ledger ConfigMap <environment>-notifications (what each target received) written.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "create"]
{{- if .Values.rbac.ack }}
# Mode ack: the record of what a Retain left in AWS (aenv-retained-<name>), for the next environment of the name.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "patch", "delete"]
# Mode ack: the ACK resources aenv writes (server-side apply), annotates and deletes.
{{- range $group, $resources := .Files.Get "files/ack-resources.yaml" | fromYaml }}
- apiGroups: [{{ printf "%s.services.k8s.aws" $group | quote }}]
  resources: {{ $resources | toJson }}
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
{{- end }}
{{- end }}
{{- end -}}
