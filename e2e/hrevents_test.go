package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

// webhookSecret is the fixture's hr.webhook_secret.
const webhookSecret = "hr-webhook-secret-5b1e7a"

// datedCSV is a CSV of people with start and end dates (YYYY-MM-DD, ""
// for none).
func datedCSV(rows [][7]string) []byte {
	var b bytes.Buffer
	b.WriteString("id,email,dept,team,status,start,end\r\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r[:], ",") + "\r\n")
	}
	return b.Bytes()
}

// TestPlanAsOf drives plan --as-of through the binary: the plan as of a
// later day creates the team that starts then, lists it as upcoming
// today, and neither run writes to LivePerson.
func TestPlanAsOf(t *testing.T) {
	t.Parallel()
	today := time.Now().UTC()
	day := func(n int) string { return today.AddDate(0, 0, n).Format(time.DateOnly) }
	f := setup(t, options{
		fields: "{id: id, email: email, start_date: start, end_date: end}",
		sync:   "{max_deletes: 1000, max_delete_percent: 100, delete_after_runs: 1, lookahead_days: 14}",
	})
	f.writeHRBytes(datedCSV([][7]string{
		{"1", "p1@example.com", "Sales", "North", "active", "", ""},
		{"2", "p2@example.com", "Sales", "North", "active", "", day(3)},      // leaves after day 3
		{"3", "p3@example.com", "Sales", "South", "active", day(5), ""},      // starts on day 5
		{"4", "p4@example.com", "Sales", "East", "active", day(2), day(4)},   // in force on days 2 to 4
		{"5", "p5@example.com", "Sales", "West", "active", "31/12/2026", ""}, // not a date
	}))
	f.mustRun(0, "sync")
	if got := slices.Sorted(mapsKeys(liveSkills(f.sim))); !slices.Equal(got, []string{"Sales / North"}) {
		t.Fatalf("skills today: %q", got)
	}
	writesBefore := len(writes(f.sim))

	res := f.mustRun(0, "plan", "--format", "json")
	var doc struct {
		AsOf     string `json:"as_of"`
		Upcoming []struct {
			Date, Action, Skill string
		} `json:"upcoming"`
		Problems []struct {
			RecordID string `json:"record_id"`
			Origin   string `json:"origin"`
			Message  string `json:"message"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
		t.Fatalf("%v: %s", err, res)
	}
	var upcoming []string
	for _, u := range doc.Upcoming {
		upcoming = append(upcoming, u.Date+" "+u.Action+" "+u.Skill)
	}
	want := []string{day(2) + " create Sales / East", day(5) + " create Sales / South", day(5) + " pending_delete Sales / East"}
	if doc.AsOf != day(0) || !slices.Equal(upcoming, want) {
		t.Errorf("as_of %s, upcoming %q, want %q", doc.AsOf, upcoming, want)
	}
	if len(doc.Problems) != 1 || doc.Problems[0].RecordID != "5" || doc.Problems[0].Origin != "hr.csv:6" ||
		!strings.Contains(doc.Problems[0].Message, `hr.fields.start_date (column "start"): "31/12/2026"`) {
		t.Errorf("problems %+v", doc.Problems)
	}
	text := f.mustRun(0, "plan").stdout
	if !strings.Contains(text, "Upcoming (as of "+day(0)+", next 14 days):") || !strings.Contains(text, day(5)+"  + Sales / South  to be created") {
		t.Errorf("text plan:\n%s", text)
	}

	// As of day 5: South is created, East (days 2 to 4) is not, and
	// North, down to Ann, stays.
	p := decodePlan(t, f.mustRun(2, "plan", "--as-of", day(5), "--format", "json", "--detailed-exitcode"))
	var changes []string
	for _, c := range p.Changes {
		changes = append(changes, c.Action+" "+c.Skill)
	}
	if !slices.Equal(changes, []string{"create Sales / South"}) {
		t.Errorf("as of day 5: %q", changes)
	}
	f.mustRun(1, "plan", "--as-of", "next monday")
	if n := len(writes(f.sim)) - writesBefore; n != 0 {
		t.Errorf("plans wrote %d times to LivePerson", n)
	}
	// The headcount baseline stays the apply run's: a dry run as of a
	// day on which everyone has left does not become it.
	for _, r := range f.runs() {
		if r.Mode == "plan" && r.Outcome != "planned" && r.Outcome != "no_changes" {
			t.Errorf("plan run %d ended %s: %s", r.ID, r.Outcome, r.Error)
		}
	}
}

// setHR adds lines (indented as keys of hr:) to the fixture's hr: block.
func (f *fixture) setHR(lines string) {
	f.t.Helper()
	b, err := os.ReadFile(f.cfgPath)
	if err != nil {
		f.t.Fatal(err)
	}
	const anchor = "  active: 'status == \"active\"'\n"
	if !bytes.Contains(b, []byte(anchor)) {
		f.t.Fatalf("the fixture's config has no %q", anchor)
	}
	b = bytes.Replace(b, []byte(anchor), []byte(anchor+lines), 1)
	if err := os.WriteFile(f.cfgPath, b, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// hrEventClient posts HR events to a daemon.
type hrEventClient struct {
	t    testing.TB
	base string
}

func (c hrEventClient) post(body string, header ...string) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+"/v1/hr-events", strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	return resp.StatusCode, v
}

func sign(body string) string {
	m := hmac.New(sha256.New, []byte(webhookSecret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// apiRuns counts the runs triggered over HTTP.
func (f *fixture) apiRuns() int {
	n := 0
	for _, r := range f.runs() {
		if r.Trigger == "api" {
			n++
		}
	}
	return n
}

// TestHREvents drives POST /v1/hr-events on the daemon: only an
// authenticated event triggers anything, a burst is one run a debounce
// after its last event, and events during a run make one follow-up run.
func TestHREvents(t *testing.T) {
	t.Parallel()
	people := staff(3, 2, 1)
	f := setup(t, options{people: people})
	f.setHR("  event_debounce: 300ms\n  webhook_secret: " + webhookSecret + "\n")
	d := f.start("run")
	c := hrEventClient{t: t, base: "http://" + d.addr()}

	body := `{"event":"worker.hired","id":"101"}`
	for _, tc := range []struct {
		name   string
		body   string
		header []string
		code   int
	}{
		{"no credentials", body, nil, http.StatusUnauthorized},
		{"wrong token", body, []string{"Authorization", "Bearer not-the-token-at-all"}, http.StatusUnauthorized},
		{"signature of another body", body, []string{"X-Skillsync-Signature", sign(body + " ")}, http.StatusUnauthorized},
		{"signature not hex", body, []string{"X-Skillsync-Signature", "sha256=zz"}, http.StatusUnauthorized},
		{"body over the cap", strings.Repeat("x", 65<<10), []string{"Authorization", "Bearer " + triggerToken}, http.StatusRequestEntityTooLarge},
	} {
		if code, v := c.post(tc.body, tc.header...); code != tc.code {
			t.Errorf("%s: %d %v, want %d", tc.name, code, v, tc.code)
		}
	}

	// A burst of 20 events, signed or with the token: one run.
	people = append(people, person{ID: "900", Email: "p900@example.com", Dept: "Dept 99", Team: "Team 0900", Status: "active"})
	f.writeHR(people)
	start := time.Now()
	for i := range 20 {
		var code int
		var v map[string]any
		if i%2 == 0 {
			code, v = c.post(body, "X-Skillsync-Signature", sign(body))
		} else {
			code, v = c.post(body, "Authorization", "Bearer "+triggerToken)
		}
		if code != http.StatusAccepted {
			t.Fatalf("event %d: %d %v", i, code, v)
		}
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v["run_at"]))
		if err != nil || at.Before(start) {
			t.Fatalf("event %d: run_at %v (%v)", i, v["run_at"], err)
		}
	}
	f.waitUntil(30*time.Second, "the new team's skill exists", func() bool { return liveSkills(f.sim)["Dept 99 / Team 0900"] != nil })
	f.waitUntil(30*time.Second, "the run is recorded", func() bool { return f.apiRuns() == 1 })

	// Events during a run: the run is held inside LivePerson while three
	// events arrive; exactly one follow-up run comes after it.
	hold, release := make(chan struct{}), make(chan struct{})
	var releaseOnce gosync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // a failing test must not leave lpsim's handler held
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/skills") {
			select {
			case hold <- struct{}{}:
				<-release
			default:
			}
		}
		next.ServeHTTP(w, r)
	})
	if code, _ := c.post(body, "X-Skillsync-Signature", sign(body)); code != http.StatusAccepted {
		t.Fatal(code)
	}
	<-hold // the run reads the skills
	for range 3 {
		code, v := c.post(body, "Authorization", "Bearer "+triggerToken)
		if code != http.StatusAccepted || v["after_run"] != true {
			t.Errorf("event during a run: %d %v", code, v)
		}
	}
	f.lp.Intercept(nil)
	free()
	f.waitUntil(30*time.Second, "the follow-up run", func() bool { return f.apiRuns() == 3 })
	metrics := httpGet(t, "http://"+d.addr()+"/metrics")
	if !strings.Contains(metrics, "skillsync_hr_event_to_applied_seconds_count") {
		t.Errorf("metrics lack the histogram:\n%s", metrics)
	}
	if code := d.stop(30 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
	// No fourth run: the follow-up covered the three events.
	if n := f.apiRuns(); n != 3 {
		t.Errorf("%d runs for HR events, want 3", n)
	}
}

func httpGet(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// BenchmarkHREventToSkill measures, with 10,000 HR records and a
// debounce of 2 s, the time from an HR event (the HR file changed, then
// POST /v1/hr-events) to the new team's skill existing in the simulator,
// over 20 events, one after the other. It reports p50 and p95.
func BenchmarkHREventToSkill(b *testing.B) {
	people := staff(2500, 4, 1) // 10,000 records
	f := setup(b, options{people: people})
	f.setHR("  event_debounce: 2s\n  webhook_secret: " + webhookSecret + "\n")
	f.mustRun(0, "sync")
	// The moment LivePerson answers a create: the skill exists.
	created := make(chan time.Time, 100)
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(w, r)
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/skills") {
			created <- time.Now()
		}
	})
	d := f.start("run")
	c := hrEventClient{t: b, base: "http://" + d.addr()}
	const events = 20
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		lat = lat[:0]
		for i := range events {
			id := 20000 + len(people)
			team := fmt.Sprintf("Team %05d", id)
			people = append(people, person{ID: fmt.Sprint(id), Email: fmt.Sprintf("p%d@example.com", id), Dept: "Dept 99", Team: team, Status: "active"})
			f.writeHR(people)
			body := fmt.Sprintf(`{"event":"worker.hired","id":"%d"}`, id)
			start := time.Now()
			if code, v := c.post(body, "X-Skillsync-Signature", sign(body)); code != http.StatusAccepted {
				b.Fatalf("event %d: %d %v", i, code, v)
			}
			var at time.Time
			select {
			case at = <-created:
			case <-time.After(2 * time.Minute):
				b.Fatalf("no create within 2 minutes of event %d", i)
			}
			if liveSkills(f.sim)["Dept 99 / "+team] == nil {
				b.Fatalf("event %d: the create was not %s's skill", i, team)
			}
			lat = append(lat, at.Sub(start))
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1)+0.5)] }
	b.ReportMetric(pct(0.50).Seconds(), "p50_s")
	b.ReportMetric(pct(0.95).Seconds(), "p95_s")
	b.ReportMetric(0, "ns/op")
	b.Logf("HR event → skill in LivePerson, 10,000 records, debounce 2s, %d events: p50 %s, p95 %s, max %s",
		len(lat), pct(0.50).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	d.stop(30 * time.Second)
}

// TestHREventWaitsForAnotherProcess: an event arriving while another
// process (a manual sync, another replica) holds the run lock is not
// lost: the daemon's run tries again and covers it once the lock is free.
func TestHREventWaitsForAnotherProcess(t *testing.T) {
	t.Parallel()
	people := staff(3, 2, 1)
	f := setup(t, options{people: people})
	f.setHR("  event_debounce: 100ms\n")
	d := f.start("run")
	c := hrEventClient{t: t, base: "http://" + d.addr()}

	// A manual sync, held in its read of the skills, holds the lock.
	held, release := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet && r.URL.Path == skillsPath {
			hold := false
			once.Do(func() { hold = true })
			if hold {
				close(held)
				<-release
			}
		}
		next.ServeHTTP(w, r)
	})
	var releaseOnce gosync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // a failing test must not leave lpsim's handler held
	manual := f.start("sync")
	<-held
	people = append(people, person{ID: "900", Email: "p900@example.com", Dept: "Dept 99", Team: "Team 0900", Status: "active"})
	f.writeHR(people)
	if code, v := c.post("{}", "Authorization", "Bearer "+triggerToken); code != http.StatusAccepted {
		t.Fatalf("event: %d %v", code, v)
	}
	f.waitUntil(30*time.Second, "the daemon finds the lock taken", func() bool {
		return len(d.logged("run for HR events waits: another process holds the run lock")) > 0
	})
	// While the lock stays taken, the daemon tries again less and less
	// often, and says so once: not two tries (each reading the database)
	// and two log lines a second for as long as another replica's run
	// lasts.
	time.Sleep(4 * time.Second)
	if n, m := len(d.logged("run for HR events waits: another process holds the run lock")), len(d.logged("run for HR events")); n != 1 || m != 1 {
		t.Errorf("while the lock was held 4 s: %d \"waits\" lines and %d \"run for HR events\" lines, want 1 of each", n, m)
	}
	free()
	f.waitUntil(time.Minute, "the manual sync ends", manual.exited)
	if manual.code != 0 {
		t.Fatalf("the manual sync exited %d:\n%s", manual.code, manual.stderr.String())
	}
	f.waitUntil(30*time.Second, "the event's run brings the new team", func() bool {
		return liveSkills(f.sim)["Dept 99 / Team 0900"] != nil && f.apiRuns() == 1
	})
}
