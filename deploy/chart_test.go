package deploy

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "helm/skillsync"

// release is one rendering of the chart, its objects decoded strictly (an
// unknown field is an error) into the Kubernetes API types.
type release struct {
	deployment     appsv1.Deployment
	service        corev1.Service
	configMap      corev1.ConfigMap
	serviceAccount *corev1.ServiceAccount
	serviceMonitor map[string]any
	prometheusRule map[string]any
	// config is skillsync's config.yaml from the ConfigMap.
	config map[string]any
}

// render renders the chart as `helm install skillsync` with values over the
// chart's defaults.
func render(t *testing.T, values map[string]any) (*release, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: "skillsync", Namespace: "ops", Revision: 1, IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	r := &release{}
	for name, text := range files {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(text) == "" {
			continue
		}
		var kind struct{ Kind string }
		if err := yaml.Unmarshal([]byte(text), &kind); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
		var target any
		switch kind.Kind {
		case "Deployment":
			target = &r.deployment
		case "Service":
			target = &r.service
		case "ConfigMap":
			target = &r.configMap
		case "ServiceAccount":
			r.serviceAccount = &corev1.ServiceAccount{}
			target = r.serviceAccount
		case "ServiceMonitor":
			target = &r.serviceMonitor
		case "PrometheusRule":
			target = &r.prometheusRule
		default:
			t.Fatalf("%s: unexpected kind %q", name, kind.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(text), target); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
	}
	if err := yaml.Unmarshal([]byte(r.configMap.Data["config.yaml"]), &r.config); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	return r, nil
}

func mustRender(t *testing.T, values map[string]any) *release {
	t.Helper()
	r, err := render(t, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// get walks a decoded YAML document along path.
func get(doc any, path ...string) any {
	for _, p := range path {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[p]
	}
	return doc
}

func TestChartLint(t *testing.T) {
	t.Parallel()
	linter := lint.All(chartDir, nil, "ops", true)
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

// TestChartDeployment: the defaults make a pod that serves on 0.0.0.0
// inside, is probed on /livez and /readyz, gets more grace than
// shutdown_timeout, runs as nobody in particular on a read-only root, and
// takes its credentials from Secrets only.
func TestChartDeployment(t *testing.T) {
	t.Parallel()
	r := mustRender(t, nil)
	pod := r.deployment.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "registry.example.com/skillsync:0.1.0" || !slices.Equal(c.Args, []string{"run", "--config", "/etc/skillsync/config.yaml"}) {
		t.Errorf("image %s, args %v", c.Image, c.Args)
	}

	// Ports: the pod listens where the Service and the probes point.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 9090 {
		t.Fatalf("ports %+v", c.Ports)
	}
	if got := get(r.config, "server", "listen"); got != "0.0.0.0:9090" {
		t.Errorf("server.listen = %v, want 0.0.0.0:9090 inside the pod", got)
	}
	if p := r.service.Spec.Ports; len(p) != 1 || p[0].Port != 9090 || p[0].TargetPort.String() != "http" {
		t.Errorf("service ports %+v", p)
	}
	podLabels := r.deployment.Spec.Template.Labels
	for k, v := range r.service.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pod lacks (%v)", k, v, podLabels)
		}
	}
	if !maps.Equal(r.deployment.Spec.Selector.MatchLabels, r.service.Spec.Selector) {
		t.Errorf("deployment selector %v, service selector %v", r.deployment.Spec.Selector.MatchLabels, r.service.Spec.Selector)
	}

	// Probes.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/livez"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/livez"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v, want GET %s on port http", p.name, p.probe, p.path)
			continue
		}
		if p.probe.HTTPGet.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s probe scheme %q, want HTTP without server.tls_cert_file", p.name, p.probe.HTTPGet.Scheme)
		}
		if p.probe.PeriodSeconds == 0 || p.probe.TimeoutSeconds == 0 || p.probe.FailureThreshold == 0 {
			t.Errorf("%s probe without period, timeout or threshold: %+v", p.name, p.probe)
		}
	}
	// Start-up (migrations wait up to 5 minutes for another replica).
	if s := c.StartupProbe; s.PeriodSeconds*s.FailureThreshold < 300 {
		t.Errorf("the startup probe gives up after %d s, before a migration's lock wait of 5 minutes", s.PeriodSeconds*s.FailureThreshold)
	}

	checkGrace(t, r, 30*time.Second)

	// Security.
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Privileged == nil || *sc.Privileged || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		len(sc.Capabilities.Add) > 0 {
		t.Errorf("container security context %+v", sc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the pod mounts a service account token it does not need")
	}
	if r.serviceAccount == nil || pod.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("service account %q, rendered %+v", pod.ServiceAccountName, r.serviceAccount)
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Errorf("no memory limit")
	}

	// The configuration: from the ConfigMap, and a new one rolls the pods.
	if r.configMap.Name == "" || !mounts(pod, c, "/etc/skillsync", func(v corev1.Volume) bool {
		return v.ConfigMap != nil && v.ConfigMap.Name == r.configMap.Name
	}) {
		t.Errorf("the ConfigMap %q is not mounted at /etc/skillsync", r.configMap.Name)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(r.deployment.Spec.Template.Annotations["checksum/config"]) {
		t.Errorf("no checksum/config annotation: %v", r.deployment.Spec.Template.Annotations)
	}

	checkSecretsAreReferences(t, r)
}

// checkGrace: the pod's grace period is above skillsync's shutdown_timeout.
func checkGrace(t *testing.T, r *release, want time.Duration) {
	t.Helper()
	s, _ := get(r.config, "shutdown_timeout").(string)
	timeout, err := time.ParseDuration(s)
	if err != nil || timeout != want {
		t.Errorf("shutdown_timeout %q (%v), want %s", s, err, want)
	}
	grace := r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second <= timeout {
		t.Errorf("terminationGracePeriodSeconds %s, want more than shutdown_timeout %s", fmtPtr(grace), timeout)
	}
}

// checkSecretsAreReferences: every ${VAR} of the configuration comes from
// a Secret, no credential is written in the configuration, and no
// environment variable holds a literal value.
func checkSecretsAreReferences(t *testing.T, r *release) {
	t.Helper()
	env := map[string]corev1.EnvVar{}
	for _, e := range r.deployment.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name == "" || e.ValueFrom.SecretKeyRef.Key == "" {
			t.Errorf("env %s is not a Secret reference: %+v", e.Name, e)
		}
	}
	text := r.configMap.Data["config.yaml"]
	vars := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(text, -1)
	if len(vars) < 4 {
		t.Errorf("the configuration refers to %d variables, want the database URL and the credentials:\n%s", len(vars), text)
	}
	for _, v := range vars {
		if _, ok := env[v[1]]; !ok {
			t.Errorf("the configuration uses ${%s}, which the pod does not get", v[1])
		}
	}
	for _, path := range [][]string{
		{"database", "url"}, {"liveperson", "auth", "client_id"}, {"liveperson", "auth", "client_secret"}, {"hr", "headers", "Authorization"},
	} {
		if s, _ := get(r.config, path...).(string); !strings.Contains(s, "${") {
			t.Errorf("config %s = %q, want a ${...} reference", strings.Join(path, "."), s)
		}
	}
}

// mounts says whether container c mounts, read-only at path, a volume of
// pod that is.
func mounts(pod corev1.PodSpec, c corev1.Container, path string, is func(corev1.Volume) bool) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != path || !m.ReadOnly {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && is(v) {
				return true
			}
		}
	}
	return false
}

// TestChartProbesFollowTLS: with server.tls_cert_file skillsync serves
// every endpoint over HTTPS, and the probes ask over HTTPS.
func TestChartProbesFollowTLS(t *testing.T) {
	t.Parallel()
	r, err := render(t, map[string]any{"config": map[string]any{"server": map[string]any{
		"tls_cert_file": "/run/secrets/tls/tls.crt", "tls_key_file": "/run/secrets/tls/tls.key"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := r.deployment.Spec.Template.Spec.Containers[0]
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
			t.Errorf("%s probe %+v, want HTTPS", name, p)
		}
	}
}

func TestChartGraceFollowsShutdownTimeout(t *testing.T) {
	t.Parallel()
	r := mustRender(t, map[string]any{"shutdownTimeoutSeconds": 90})
	checkGrace(t, r, 90*time.Second)
	if g := *r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; g != 105 {
		t.Errorf("terminationGracePeriodSeconds %d, want 90 + 15", g)
	}
}

// TestChartSecretFiles: Secrets mounted read-only under /run/secrets for
// ${file:...} references.
func TestChartSecretFiles(t *testing.T) {
	t.Parallel()
	r := mustRender(t, map[string]any{
		"secretFiles": []any{map[string]any{"secretName": "skillsync-lp"}},
		"config": map[string]any{"liveperson": map[string]any{"auth": map[string]any{
			"client_secret": "${file:/run/secrets/skillsync-lp/client-secret}"}}},
	})
	pod := r.deployment.Spec.Template.Spec
	if !mounts(pod, pod.Containers[0], "/run/secrets/skillsync-lp", func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == "skillsync-lp"
	}) {
		t.Errorf("the Secret is not mounted read-only at /run/secrets/skillsync-lp: mounts %+v", pod.Containers[0].VolumeMounts)
	}
	if got := get(r.config, "liveperson", "auth", "client_secret"); got != "${file:/run/secrets/skillsync-lp/client-secret}" {
		t.Errorf("client_secret = %v", got)
	}
}

// TestChartRefusesLiteralSecrets: a credential written in the values, or a
// setting the chart owns, stops the rendering with the key to fix.
func TestChartRefusesLiteralSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values map[string]any
		want   string // in the error; "" means it renders
	}{
		{"client secret", cfg("liveperson", "auth", "client_secret", "s3cr3t"), "config.liveperson.auth.client_secret holds a literal credential"},
		{"password", cfg("liveperson", "auth", "password", "hunter2"), "config.liveperson.auth.password"},
		{"trigger token", cfg("server", "trigger_token", "t0ken"), "config.server.trigger_token"},
		{"hr header", cfg("hr", "headers", "Authorization", "Bearer abc"), "config.hr.headers.Authorization"},
		{"hr auth password", cfg("hr", "auth", "password", "hunter2"), "config.hr.auth.password holds a literal credential"},
		{"hr auth token", cfg("hr", "auth", "token", "bamboo-api-key"), "config.hr.auth.token holds a literal credential"},
		{"hr auth client secret", cfg("hr", "auth", "client_secret", "s3cr3t"), "config.hr.auth.client_secret holds a literal credential"},
		{"hr auth refresh token", cfg("hr", "auth", "refresh_token", "r3fresh"), "config.hr.auth.refresh_token holds a literal credential"},
		{"hr auth by reference", cfg("hr", "auth", "client_secret", "${file:/run/secrets/skillsync-hr/client-secret}"), ""},
		{"database password", cfg("database", "url", "postgres://skillsync:pw@db/skillsync"), "config.database.url holds a password"},
		{"hr database password", cfg("hr", "database_url", "host=db password=pw"), "config.hr.database_url holds a password"},
		{"listen", cfg("server", "listen", "127.0.0.1:9090"), "config.server.listen: the chart sets it"},
		{"shutdown_timeout", cfg("shutdown_timeout", "90s"), "config.shutdown_timeout: set shutdownTimeoutSeconds"},
		{"grace as a string", map[string]any{"shutdownTimeoutSeconds": "90s"}, "shutdownTimeoutSeconds"},
		{"password by reference", cfg("database", "url", "postgres://skillsync:${DB_PASSWORD}@db/skillsync"), ""},
		{"header by reference", cfg("hr", "headers", "Authorization", "Bearer ${HR_TOKEN}"), ""},
		{"notify sink url", map[string]any{"config": map[string]any{"notify": map[string]any{"sinks": []any{map[string]any{"name": "oncall", "type": "slack", "url": "https://hooks.slack.com/services/T0/B0/x"}}}}}, "config.notify.sinks[0].url holds a literal credential"},
		{"notify sink secret", map[string]any{"config": map[string]any{"notify": map[string]any{"sinks": []any{map[string]any{"name": "hook", "type": "webhook", "url": "${HOOK_URL}", "secret": "s1gn"}}}}}, "config.notify.sinks[0].secret holds a literal credential"},
		{"notify sink by reference", map[string]any{"config": map[string]any{"notify": map[string]any{"sinks": []any{map[string]any{"name": "oncall", "type": "slack", "url": "${SLACK_WEBHOOK_URL}"}}}}}, ""},
		{"hr webhook secret", cfg("hr", "webhook_secret", "0123456789abcdef0123"), "config.hr.webhook_secret holds a literal credential"},
		{"database without password", cfg("database", "url", "postgres://skillsync@db/skillsync?sslmode=verify-full"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tt.values)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("render: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("render error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// cfg is the values {config: {path...: value}}.
func cfg(pathAndValue ...string) map[string]any {
	var v any = pathAndValue[len(pathAndValue)-1]
	for i := len(pathAndValue) - 2; i >= 0; i-- {
		v = map[string]any{pathAndValue[i]: v}
	}
	return map[string]any{"config": v}
}

// TestChartMonitoring: the ServiceMonitor scrapes the Service's port at
// /metrics under the job the alerts name, and the PrometheusRule carries
// files/alerts.yaml; neither exists unless enabled.
func TestChartMonitoring(t *testing.T) {
	t.Parallel()
	if r := mustRender(t, nil); r.serviceMonitor != nil || r.prometheusRule != nil {
		t.Errorf("monitoring objects rendered by default")
	}
	r := mustRender(t, map[string]any{
		"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "kps"}},
		"prometheusRule": map[string]any{"enabled": true, "labels": map[string]any{"release": "kps"}},
	})
	sm := r.serviceMonitor
	if get(sm, "metadata", "labels", "release") != "kps" || get(r.prometheusRule, "metadata", "labels", "release") != "kps" {
		t.Errorf("selection labels missing")
	}
	endpoints, _ := get(sm, "spec", "endpoints").([]any)
	if len(endpoints) != 1 || get(endpoints[0], "port") != r.service.Spec.Ports[0].Name || get(endpoints[0], "path") != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %v", endpoints)
	}
	sel, _ := get(sm, "spec", "selector", "matchLabels").(map[string]any)
	for k, v := range sel {
		if r.service.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%v, which the Service lacks", k, v)
		}
	}
	jobLabel, _ := get(sm, "spec", "jobLabel").(string)
	job := r.service.Labels[jobLabel]

	var file map[string]any
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(chartDir, "files/alerts.yaml")), &file); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(get(r.prometheusRule, "spec")) != fmt.Sprint(file) {
		t.Errorf("PrometheusRule spec is not files/alerts.yaml:\n%v\n%v", get(r.prometheusRule, "spec"), file)
	}
	groups, _ := get(file, "groups").([]any)
	alerts := 0
	for _, g := range groups {
		rules, _ := get(g, "rules").([]any)
		for _, rule := range rules {
			alerts++
			expr, _ := get(rule, "expr").(string)
			for _, m := range regexp.MustCompile(`job="([^"]*)"`).FindAllStringSubmatch(expr, -1) {
				if m[1] != job {
					t.Errorf("alert %v selects job=%q; the ServiceMonitor names the job %q", get(rule, "alert"), m[1], job)
				}
			}
			if get(rule, "labels", "severity") == nil || get(rule, "annotations", "summary") == nil {
				t.Errorf("alert %v lacks a severity or a summary", get(rule, "alert"))
			}
		}
	}
	if alerts < 5 {
		t.Errorf("%d alerts", alerts)
	}
}

// TestChartConfigIsValid: skillsync's own `config check` accepts the
// configuration the chart writes, with the variables the pod gets.
func TestChartConfigIsValid(t *testing.T) {
	if testing.Short() {
		t.Skip("builds skillsync")
	}
	t.Parallel()
	r := mustRender(t, nil)
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(r.configMap.Data["config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "skillsync")
	build := exec.Command("go", "build", "-o", bin, "./cmd/skillsync")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build skillsync: %v\n%s", err, out)
	}
	check := exec.Command(bin, "config", "check", "--config", config)
	check.Env = append(os.Environ(), "SKILLSYNC_DATABASE_URL=postgres://skillsync@db:5432/skillsync",
		"LP_CLIENT_ID=id", "LP_CLIENT_SECRET=secret", "HR_TOKEN=token")
	out, err := check.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration is valid") {
		t.Errorf("skillsync config check: %v\n%s", err, out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
