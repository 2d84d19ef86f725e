package e2e

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

// The chaos soak (issue 11): each seed draws an installation, HR
// generations (growth, moves, departures, renames of teams, departments
// and of the name template, returning teams), LivePerson faults (5xx, 429,
// dropped connections, lost answers, batches applied in part, lagging
// reads, concurrent and hand edits, token expiry), process kills (in
// process, and kill -9 of the real binary), lost run locks
// (pg_terminate_backend of the lock's session, with a second sync started
// at once) and PostgreSQL restarts, and runs several syncs through them.
// Then clean syncs, and the invariants (see check):
//
//   - no two skills share a name by LivePerson's case-insensitive rule;
//   - every skill made by hand is unchanged, never written, not owned;
//   - every skill HR asks for exists exactly once (skillsync's, with the
//     rule's name and description, or someone's own of that name); no
//     skill exists that neither skillsync nor a person owns;
//   - no user lost a field skillsync does not manage (fullName,
//     employeeId, profileIds, nickname, maxChats, its hand-made skills),
//     nor a hand-set unmanaged field of an owned skill;
//   - matched agents hold their team's skill (policy sync);
//   - no run is left running;
//   - every write LivePerson received, and every journaled write, falls
//     inside the hold of exactly one process on the run lock: its own;
//   - the account converges: after delete_after_runs + 1 clean syncs the
//     next has nothing to do.
//
// Most syncs run in process (sync.Runner wired like the binary, from the
// same configuration file, to the same lpsim and PostgreSQL; one process
// runs a seed's syncs as the daemon would, replaced now and then, and when
// it is killed): a sync takes tens of milliseconds. A share of the seeds
// runs the real binary for some of their syncs, which kill -9 kills. The
// seeds' database is on a PostgreSQL cluster of the soak's own (without
// fsync, emptied for each seed), which a share of the seeds restarts; on
// the suite's PostgreSQL when initdb is missing, without restarts.
//
// go test ./e2e runs the CI seeds (soakCISeeds). SKILLSYNC_SOAK_SEEDS=N
// runs seeds 1..N (or A-B), SKILLSYNC_SOAK_SEED=K seed K alone; add -v
// for the report, and SKILLSYNC_SOAK_LOGDIR=DIR to keep the whole log of
// each failing seed.

const (
	envSoakSeeds = "SKILLSYNC_SOAK_SEEDS"
	envSoakSeed  = "SKILLSYNC_SOAK_SEED"
	// envSoakLogDir names a directory to write each failing seed's story
	// and in-process log to.
	envSoakLogDir = "SKILLSYNC_SOAK_LOGDIR"
	// soakCISeeds is how many seeds go test runs without either variable
	// (a few seconds of CPU); soakCISeedsRace under -race, which makes a
	// seed several times dearer.
	soakCISeeds     = 6
	soakCISeedsRace = 2
)

// soakSeeds returns the seeds to run and whether the environment chose
// them.
func soakSeeds(t *testing.T) ([]uint64, bool) {
	if v := os.Getenv(envSoakSeed); v != "" {
		k, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a seed number", envSoakSeed, v)
		}
		return []uint64{k}, true
	}
	first, last := uint64(1), uint64(soakCISeeds)
	if raceEnabled {
		last = soakCISeedsRace
	}
	v := os.Getenv(envSoakSeeds)
	if v != "" {
		a, b, isRange := strings.Cut(v, "-")
		var err1, err2 error
		if isRange {
			first, err1 = strconv.ParseUint(a, 10, 64)
			last, err2 = strconv.ParseUint(b, 10, 64)
		} else {
			last, err1 = strconv.ParseUint(a, 10, 64)
		}
		if err1 != nil || err2 != nil || first == 0 || last < first {
			t.Fatalf("%s=%q: want a count (1000) or a range (200-300) of seeds from 1", envSoakSeeds, v)
		}
	}
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out, v != ""
}

func TestChaosSoak(t *testing.T) {
	seeds, _ := soakSeeds(t)
	sk := &soak{t: t, employeeIDMapped: knowsEmployeeIDField(), counts: map[string]int{}, violations: map[string][]uint64{}}
	t.Cleanup(sk.close)
	start := time.Now()
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { sk.runSeed(t, seed) })
	}
	t.Log(sk.report(time.Since(start)))
}

// soak is one run of the soak over many seeds.
type soak struct {
	t                *testing.T
	employeeIDMapped bool

	// cluster is the soak's own PostgreSQL (started at the first seed),
	// which runs may restart.
	cluster     *pgtest.Cluster
	clusterErr  error
	clusterOnce gosync.Once
	// noClusterOnce logs once that there is no cluster.
	noClusterOnce gosync.Once

	mu         gosync.Mutex
	seeds      int
	runs       int
	finalRuns  int
	counts     map[string]int
	violations map[string][]uint64 // invariant → seeds
	failed     []uint64
}

func (sk *soak) close() {
	if sk.cluster != nil {
		_ = sk.cluster.Stop()
	}
}

// ownDB returns the URL of the soak's database on its own cluster,
// migrated and emptied for the seed, or "" when the soak cannot start a
// cluster (no initdb): then the seed uses the suite's PostgreSQL, and no
// restart. Emptying the tables costs a fraction of creating a database.
func (sk *soak) ownDB(t *testing.T) string {
	const name = "soak"
	sk.clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sk.cluster, sk.clusterErr = pgtest.Start(ctx, pgtest.Options{Database: name})
		if sk.clusterErr != nil {
			return
		}
		st, err := store.Open(ctx, sk.cluster.URL(), store.Options{})
		if err != nil {
			sk.clusterErr = err
			return
		}
		sk.clusterErr = st.Migrate(ctx)
		st.Close()
	})
	if sk.clusterErr != nil {
		sk.noClusterOnce.Do(func() {
			sk.t.Logf("no PostgreSQL of the soak's own (%v): the seeds use the suite's, without restarts", sk.clusterErr)
		})
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, sk.cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables string
	if err := conn.QueryRow(ctx, `SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables
		WHERE schemaname = 'public' AND tablename <> 'skillsync_schema_version'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "TRUNCATE "+tables+" RESTART IDENTITY CASCADE"); err != nil {
		t.Fatal(err)
	}
	return sk.cluster.URL()
}

// seedRun is one seed: its installation, its story and what it expects.
type seedRun struct {
	t       *testing.T
	seed    uint64
	rng     *rand.Rand
	editRng *rand.Rand
	cfg     seedConfig
	f       *fixture
	admin   *pgxpool.Pool // the seed's database, directly
	cluster *pgtest.Cluster
	log     lockedBuffer // the in-process processes' log lines

	employeeIDMapped bool
	finalRuns        int

	wg gosync.WaitGroup // in-process processes

	mu          gosync.Mutex
	world       *world
	invs        []*invocation
	byName      map[string]*invocation
	binary      *invocation // the binary running, if any
	daemon      *inproc     // the long-lived in-process process
	standby     *inproc     // the second replica's, ready for a lost lock
	writes      []writeRecord
	resumeLater bool
	restarted   bool // PostgreSQL restarted in this chaos run
	handSeq     int
	procSeq     int
	hand        map[int64]string // skills made by hand: id → as stored
	ownedFields map[int64]map[string]any
	// touched are skills skillsync made that were edited by hand before
	// it confirmed them: it may leave them to their editor.
	touched    map[int64]bool
	users      map[int64]map[string]any // users as they must stay (skillIds aside)
	userHand   map[int64]map[int64]bool // hand-made skills each user must keep
	counts     map[string]int
	storyLines []string
	violations []string
	invariants map[string]bool
}

func (s *seedRun) violate(invariant, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, "["+invariant+"] "+fmt.Sprintf(format, args...))
	s.invariants[invariant] = true
}

func (s *seedRun) count(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[kind]++
	s.storyLocked("  %s", kind)
}

func (s *seedRun) story(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storyLocked(format, args...)
}

func (s *seedRun) storyLocked(format string, args ...any) {
	s.storyLines = append(s.storyLines, fmt.Sprintf(format, args...))
}

func (s *seedRun) notef(format string, args ...any) { s.story("  note: "+format, args...) }

func (sk *soak) runSeed(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x50a4c4a05))
	s := &seedRun{t: t, seed: seed, rng: rng, editRng: rand.New(rand.NewPCG(seed, 0xed17)),
		employeeIDMapped: sk.employeeIDMapped, byName: map[string]*invocation{},
		hand: map[int64]string{}, ownedFields: map[int64]map[string]any{}, touched: map[int64]bool{}, users: map[int64]map[string]any{},
		userHand: map[int64]map[int64]bool{}, counts: map[string]int{}, invariants: map[string]bool{}}
	s.log.events = newNotifier()
	s.cfg = drawConfig(rng)
	s.world = newWorld(rng)
	// The soak's own cluster runs without fsync, and may be restarted.
	dbURL := sk.ownDB(t)
	if dbURL == "" {
		s.cfg.restarts = false
	} else {
		s.cluster = sk.cluster
	}
	fields := "{id: id, email: email, name: name}"
	if s.employeeIDMapped {
		fields = "{id: id, email: email, name: name, employee_id: id}"
	}
	extra := ""
	if s.cfg.assignments {
		extra = fmt.Sprintf("assignments: {enabled: true, match: email, keep_unmatched: %v, max_changes_percent: %d}\n", s.cfg.keepUnmatched, s.cfg.maxChanges)
	}
	s.f = setup(t, options{
		auth: s.cfg.auth, dbURL: dbURL, people: []person{}, batch: s.cfg.batch, fields: fields, rules: soakRules(0), extra: extra,
		sim: lpsim.Options{ConflictStatus: s.cfg.conflictStatus, CreateResponse: s.cfg.createResponse},
		sync: fmt.Sprintf("{policy: %s, max_deletes: -1, max_delete_percent: -1, max_active_drop_percent: -1, delete_after_runs: %d}",
			s.cfg.policy, s.cfg.deleteAfter),
	})
	s.f.writeHRBytes(s.world.csv())
	ctx := context.Background()
	var err error
	if s.admin, err = pgxpool.New(ctx, s.f.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.admin.Close)
	s.f.lp.Intercept(s.intercept)
	t.Cleanup(func() { s.f.lp.Intercept(nil) })
	t.Cleanup(s.closeDaemon)
	s.story("seed %d: %s", seed, s.cfg)

	s.seedAccount()
	gens := 2 + rng.IntN(3)
	for g := range gens {
		if g > 0 {
			s.mu.Lock()
			did := s.world.generation()
			tmplChanged := false
			if s.cfg.policy != "create-only" && rng.Float64() < 0.15 {
				s.world.tmpl = (s.world.tmpl + 1 + rng.IntN(len(nameTemplates)-1)) % len(nameTemplates)
				tmplChanged = true
				did = append(did, fmt.Sprintf("name template → %s", nameTemplates[s.world.tmpl]))
			}
			for _, p := range s.world.people {
				if p.Status == "active" && !s.hasUser(p.Email) && rng.Float64() < 0.5 {
					s.addUser(agentOf(p, rng.IntN(10) < 6), nil)
				}
			}
			s.mu.Unlock()
			s.f.writeHRBytes(s.world.csv())
			if tmplChanged {
				s.setTemplate()
			}
			s.story("generation %d: %s", g, strings.Join(did, "; "))
		}
		for range 1 + rng.IntN(2) {
			s.chaosRun(drawRun(rng, s.cfg))
		}
	}
	s.check(ctx)
	s.tally(sk)
	if len(s.violations) > 0 {
		shown := s.violations
		if len(shown) > 25 {
			shown = append(shown[:25:25], fmt.Sprintf("… and %d more", len(s.violations)-25))
		}
		t.Errorf("seed %d: %d violations:\n%s\n\nstory:\n%s\n\nrerun this seed alone: %s=%d go test ./e2e -run 'TestChaosSoak' -count=1 -v",
			seed, len(s.violations), strings.Join(shown, "\n"), strings.Join(s.storyLines, "\n"), envSoakSeed, seed)
		if dir := os.Getenv(envSoakLogDir); dir != "" {
			path := filepath.Join(dir, fmt.Sprintf("seed-%d.log", seed))
			if err := os.WriteFile(path, []byte(strings.Join(s.storyLines, "\n")+"\n\n"+s.log.String()), 0o644); err != nil {
				t.Log(err)
			} else {
				t.Logf("story and log of the in-process runs: %s", path)
			}
		} else if testing.Verbose() {
			t.Logf("log of the in-process runs (tail; %s=DIR keeps all of it):\n%s", envSoakLogDir, tailOf(s.log.String(), 8000))
		}
	}
}

// seedAccount fills LivePerson before the first run: a few skills made by
// hand (one, now and then, under a name HR asks for), and users for most
// HR people, some holding a hand-made skill, plus a few HR does not know.
func (s *seedRun) seedAccount() {
	s.mu.Lock()
	defer s.mu.Unlock()
	rng := s.rng
	for range rng.IntN(3) {
		s.handSeq++
		s.createHandSkill(fmt.Sprintf("Hand made %d", s.handSeq))
	}
	if rng.Float64() < 0.3 {
		d := sortedDesired(s.world.desired())
		s.createHandSkill(d[rng.IntN(len(d))][0])
	}
	hand := slices.Sorted(maps.Keys(s.hand))
	give := func() []int64 {
		if len(hand) > 0 && rng.IntN(3) == 0 {
			return []int64{hand[rng.IntN(len(hand))]}
		}
		return nil
	}
	for _, p := range s.world.people {
		if rng.Float64() < 0.8 {
			s.addUser(agentOf(p, rng.IntN(10) < 6), give())
		}
	}
	for i := range rng.IntN(3) {
		s.addUser(map[string]any{"loginName": fmt.Sprintf("contractor%d", i), "email": fmt.Sprintf("c%d@example.org", i),
			"nickname": "Contractor", "fullName": fmt.Sprintf("Contractor %d", i), "profileIds": []any{2}}, give())
	}
}

// setTemplate rewrites the rule's name template in the configuration.
func (s *seedRun) setTemplate() {
	b, err := os.ReadFile(s.f.cfgPath)
	if err != nil {
		s.t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "      name: ")
	j := strings.Index(text[i:], "\n")
	text = text[:i] + fmt.Sprintf("      name: %q", nameTemplates[s.world.tmpl]) + text[i+j:]
	if err := os.WriteFile(s.f.cfgPath, []byte(text), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// chaosRun runs one sync as plan says, and waits until every process it
// led to (a second sync after a lost lock, a killed one) has ended.
func (s *seedRun) chaosRun(plan runPlan) {
	s.story("run: %s", plan)
	before := s.lastRunID()
	s.mu.Lock()
	first := len(s.invs)
	s.mu.Unlock()
	for _, f := range plan.faults {
		s.f.sim.InjectFault(f)
	}
	if plan.lostLockAt > 0 {
		s.prepareStandby()
	}
	var inv *invocation
	if plan.binary {
		inv = s.runBinary(plan)
	} else {
		s.waitLockFree()
		inv = s.startInProcess(plan, plan.fresh)
		<-inv.done
	}
	s.wg.Wait()
	s.f.sim.ClearFaults()
	s.mu.Lock()
	late, standby := s.resumeLater, s.standby
	s.resumeLater, s.standby = false, nil
	s.mu.Unlock()
	if standby != nil {
		standby.close() // the lock was not lost after all
	}
	if late {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.cluster.Resume(ctx); err != nil {
			s.violate("harness", "resume PostgreSQL: %v", err)
		}
		cancel()
	}
	if s.restarted {
		// The soak's own connections did not live through it.
		s.admin.Reset()
		s.restarted = false
	}
	if plan.binary {
		s.attributeBinaryRun(inv, before)
	}
	s.mu.Lock()
	outcome := fmt.Sprint(inv.err)
	if inv.res != nil {
		outcome = string(inv.res.Run.Outcome)
	}
	if inv.binary {
		outcome = fmt.Sprintf("exit %d", inv.code)
	}
	s.storyLocked("  → %s: %s", inv.name, outcome)
	for _, other := range s.invs[first:] {
		if other != inv {
			if other.res != nil {
				s.storyLocked("  → %s (second replica): %s", other.name, other.res.Run.Outcome)
			} else {
				s.storyLocked("  → %s (second replica): %v", other.name, other.err)
			}
		}
	}
	if plan.trap && len(inv.trapNames) > 0 {
		for _, n := range inv.trapNames {
			if s.createHandSkill(n) {
				s.counts["edit: "+editTakeoverTrap]++
				s.storyLocked("  hand edit: %s (%q)", editTakeoverTrap, n)
				break
			}
		}
	}
	s.mu.Unlock()
}

// openStore opens the seed's database as skillsync does, for the checks
// (anew each time: a PostgreSQL restart ends the sessions of a store).
func (s *seedRun) openStore(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, s.f.dbURL, store.Options{Account: account})
}

// lastRunID is the latest run's id (0: none).
func (s *seedRun) lastRunID() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var id int64
	if err := s.admin.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM runs`).Scan(&id); err != nil {
		s.violate("harness", "read the last run: %v", err)
	}
	return id
}

// attributeBinaryRun finds the run the binary began: the one after before
// that no in-process process began. Its hold on the lock started when
// the run did.
func (s *seedRun) attributeBinaryRun(inv *invocation, before int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.openStore(ctx)
	if err != nil {
		s.violate("harness", "open the store: %v", err)
		return
	}
	defer st.Close()
	runs, err := st.ListRuns(ctx, 1000)
	if err != nil {
		s.violate("harness", "list runs: %v", err)
		return
	}
	claimed := map[int64]bool{}
	s.mu.Lock()
	for _, other := range s.invs {
		if other != inv && other.runID != 0 {
			claimed[other.runID] = true
		}
	}
	s.mu.Unlock()
	var mine []store.Run
	for _, r := range runs {
		if r.ID > before && !claimed[r.ID] {
			mine = append(mine, r)
		}
	}
	switch len(mine) {
	case 0:
		// Killed before its run began.
	case 1:
		inv.mu.Lock()
		inv.runID, inv.lockStart = mine[0].ID, mine[0].StartedAt
		if inv.lockEnd.Before(inv.lockStart) {
			inv.lockEnd = inv.lockStart // lost before it began: it never held it
		}
		inv.mu.Unlock()
	default:
		s.violate("harness", "the binary's sync began %d runs", len(mine))
	}
}

// tally adds the seed to the soak's figures: the faults lpsim injected
// (from its request log), the disruptions and edits, the violations.
func (s *seedRun) tally(sk *soak) {
	faults := map[string]int{}
	for _, r := range s.f.sim.Requests() {
		if r.Fault == "" {
			continue
		}
		for _, part := range strings.Split(r.Fault, "+") {
			faults["fault: "+faultKind(part)]++
		}
	}
	sk.mu.Lock()
	defer sk.mu.Unlock()
	sk.seeds++
	sk.runs += len(s.invs)
	for _, inv := range s.invs {
		if inv.binary {
			sk.counts["syncs run by the binary"]++
		}
	}
	sk.finalRuns += s.finalRuns
	for k, n := range faults {
		sk.counts[k] += n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.counts {
		sk.counts[k] += n
	}
	for inv := range s.invariants {
		sk.violations[inv] = append(sk.violations[inv], s.seed)
	}
	if len(s.violations) > 0 {
		sk.failed = append(sk.failed, s.seed)
	}
}

// faultKind groups a fault label ("status 503", "lag 2") by kind.
func faultKind(label string) string {
	switch {
	case strings.HasPrefix(label, "status 429"):
		return "429 Too Many Requests"
	case strings.HasPrefix(label, "status 5"):
		return "5xx"
	case strings.HasPrefix(label, "lag"):
		return "lagging read"
	case strings.HasPrefix(label, "partial-apply"):
		return "batch applied in part, then 500"
	case label == "lose-response":
		return "lost answer"
	case label == "drop":
		return "dropped connection"
	case label == "expire-token":
		return "token expiry"
	case label == "concurrent-edit":
		return "concurrent edit (revision moved)"
	}
	return label
}

func (sk *soak) report(elapsed time.Duration) string {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "chaos soak: %d seeds in %s (%.1f seeds/min), %d syncs (%d of them final clean syncs)\n",
		sk.seeds, elapsed.Round(time.Second), float64(sk.seeds)/elapsed.Minutes(), sk.runs, sk.finalRuns)
	for _, k := range slices.Sorted(maps.Keys(sk.counts)) {
		fmt.Fprintf(&b, "  %-52s %6d\n", k, sk.counts[k])
	}
	fmt.Fprintf(&b, "violations: %d seeds of %d failed\n", len(sk.failed), sk.seeds)
	for _, k := range slices.Sorted(maps.Keys(sk.violations)) {
		seeds := sk.violations[k]
		shown := seeds
		if len(shown) > 30 {
			shown = shown[:30]
		}
		fmt.Fprintf(&b, "  %-28s in %4d seeds: %v\n", k, len(seeds), shown)
	}
	return b.String()
}
