{{/* The chart's name. */}}
{{- define "skillsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects. */}}
{{- define "skillsync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "skillsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "skillsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "skillsync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "skillsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "skillsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "skillsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
skillsync's config.yaml: .Values.config with server.listen and
shutdown_timeout set by the chart, after checking that no credential is
written in it literally.
*/}}
{{- define "skillsync.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- if hasKey $cfg "shutdown_timeout" }}
{{- fail "config.shutdown_timeout: set shutdownTimeoutSeconds instead: the chart derives the pod's terminationGracePeriodSeconds from it" }}
{{- end }}
{{- $server := get $cfg "server" | default dict }}
{{- if hasKey $server "listen" }}
{{- fail "config.server.listen: the chart sets it to 0.0.0.0:<service.port> so that the probes and Prometheus reach the pod; set service.port" }}
{{- end }}
{{- $_ := set $server "listen" (printf "0.0.0.0:%d" (int .Values.service.port)) }}
{{- $_ = set $cfg "server" $server }}
{{- $_ = set $cfg "shutdown_timeout" (printf "%ds" (int .Values.shutdownTimeoutSeconds)) }}
{{- include "skillsync.noLiteralSecrets" $cfg }}
{{- toYaml $cfg }}
{{- end }}

{{/*
Fails when a credential of the configuration is written literally instead
of as a ${VAR} or ${file:...} reference: the ConfigMap is no place for it.
*/}}
{{- define "skillsync.noLiteralSecrets" -}}
{{- $secrets := dict }}
{{- $lp := get . "liveperson" | default dict }}
{{- $auth := get $lp "auth" | default dict }}
{{- range $key := list "client_secret" "secret" "access_token" "access_token_secret" "password" }}
{{- $_ := set $secrets (printf "liveperson.auth.%s" $key) (get $auth $key) }}
{{- end }}
{{- $server := get . "server" | default dict }}
{{- $_ := set $secrets "server.trigger_token" (get $server "trigger_token") }}
{{- $hr := get . "hr" | default dict }}
{{- $_ = set $secrets "hr.password" (get $hr "password") }}
{{- $_ = set $secrets "hr.webhook_secret" (get $hr "webhook_secret") }}
{{- $hrAuth := get $hr "auth" | default dict }}
{{- range $key := list "password" "token" "client_secret" "refresh_token" }}
{{- $_ = set $secrets (printf "hr.auth.%s" $key) (get $hrAuth $key) }}
{{- end }}
{{- range $name, $value := (get $hr "headers" | default dict) }}
{{- $_ = set $secrets (printf "hr.headers.%s" $name) $value }}
{{- end }}
{{- /* A notify sink's URL is a credential (a Slack or Teams webhook URL is one), and so is its signing secret. */}}
{{- $notify := get . "notify" | default dict }}
{{- range $i, $sink := (get $notify "sinks" | default list) }}
{{- $_ := set $secrets (printf "notify.sinks[%d].url" $i) (get $sink "url") }}
{{- $_ = set $secrets (printf "notify.sinks[%d].secret" $i) (get $sink "secret") }}
{{- end }}
{{- range $key, $value := $secrets }}
{{- $v := toString ($value | default "") }}
{{- if and $v (not (contains "${" $v)) }}
{{- fail (printf "config.%s holds a literal credential: write it as ${VAR} (with secretEnv) or ${file:/run/secrets/...} (with secretFiles), from a Kubernetes Secret" $key) }}
{{- end }}
{{- end }}
{{- $db := get . "database" | default dict }}
{{- $urls := dict "database.url" (get $db "url") "hr.database_url" (get $hr "database_url") "hr.url" (get $hr "url") }}
{{- range $key, $value := $urls }}
{{- $v := toString ($value | default "") }}
{{- if and (regexMatch "://[^/@:]*:[^@]+@|password=" $v) (not (contains "${" $v)) }}
{{- fail (printf "config.%s holds a password: write the URL as ${VAR} (with secretEnv) or ${file:/run/secrets/...} (with secretFiles), from a Kubernetes Secret" $key) }}
{{- end }}
{{- end }}
{{- /* A query value named like a credential (?api_key=, ?access_token=), as skillsync tells them apart. */}}
{{- $hrURL := toString (get $hr "url" | default "") }}
{{- if regexMatch "(?i)[?&][^=&#]*(key|token|secret|pass|sig|auth|cred|session)[^=&#]*=([^$&#]|[$][^{])" $hrURL }}
{{- fail "config.hr.url holds a credential in its query: write its value as ${VAR} (with secretEnv) or ${file:/run/secrets/...} (with secretFiles), from a Kubernetes Secret, or move it to hr.auth" }}
{{- end }}
{{- /* A JSON POST body's value under a credential's name ({"password": "..."}). */}}
{{- $hrBody := toString (get $hr "body" | default "") }}
{{- if regexMatch "(?i)\"[^\"]*(key|token|secret|pass|sig|auth|cred|session)[^\"]*\"\\s*:\\s*\"([^$\"]|[$][^{])" $hrBody }}
{{- fail "config.hr.body holds a credential: write its value as ${VAR} (with secretEnv) or ${file:/run/secrets/...} (with secretFiles), from a Kubernetes Secret" }}
{{- end }}
{{- end }}

{{/*
The probes' scheme: HTTPS when skillsync serves TLS itself
(config.server.tls_cert_file), else HTTP.
*/}}
{{- define "skillsync.probeScheme" -}}
{{- $server := (get (.Values.config | default dict) "server") | default dict -}}
{{- if get $server "tls_cert_file" }}HTTPS{{ else }}HTTP{{ end -}}
{{- end }}
