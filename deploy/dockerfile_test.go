package deploy

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDockerfileUserNumeric: the image runs as a numeric user, the one the
// chart's pods run as. Kubernetes cannot check runAsNonRoot against a user
// name (the distroless image's "nonroot"): a pod that sets runAsNonRoot
// without runAsUser (as Pod Security's restricted profile asks, outside
// this chart) would not start.
func TestDockerfileUserNumeric(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var user string
	for line := range strings.SplitSeq(string(b), "\n") {
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "USER "); ok {
			user = strings.TrimSpace(u) // the last USER is the image's
		}
	}
	m := regexp.MustCompile(`^(\d+):(\d+)$`).FindStringSubmatch(user)
	if m == nil {
		t.Fatalf("the image's USER is %q, want a numeric uid:gid", user)
	}
	r := mustRender(t, nil)
	psc := r.deployment.Spec.Template.Spec.SecurityContext
	uid, _ := strconv.ParseInt(m[1], 10, 64)
	gid, _ := strconv.ParseInt(m[2], 10, 64)
	if uid == 0 || psc.RunAsUser == nil || *psc.RunAsUser != uid || psc.RunAsGroup == nil || *psc.RunAsGroup != gid {
		t.Errorf("the image runs as %s, the chart's pods as %v:%v", user, psc.RunAsUser, psc.RunAsGroup)
	}
}
