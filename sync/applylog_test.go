package sync

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/skillsync/skillsync/store"
)

// TestApplyLogsOneLinePerBatch: at info level the applier logs one line
// per write batch (the journal keeps every item); at debug level it also
// logs every skill and user.
func TestApplyLogsOneLinePerBatch(t *testing.T) {
	t.Parallel()
	const people, batch = 120, 50 // 3 batches of creates, 3 of users
	for _, tt := range []struct {
		level   slog.Level
		perItem int // lines per created skill, and per updated user
	}{
		{slog.LevelInfo, 0},
		{slog.LevelDebug, 1},
	} {
		t.Run(tt.level.String(), func(t *testing.T) {
			t.Parallel()
			var buf lockedBuffer
			logger := slog.New(LogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tt.level})))
			cfg := teamConfig()
			cfg.Assignments = AssignmentsConfig{Enabled: true, MaxChangesPercent: 100}
			e := setup(t, manyHR(people), cfg, withBatch(batch), withLogger(logger))
			seeds := make([]map[string]any, people)
			for i := range seeds {
				seeds[i] = map[string]any{"loginName": fmt.Sprintf("p%d", i+1), "email": fmt.Sprintf("p%d@example.com", i+1), "profileIds": []any{3}}
			}
			e.sim.SeedUsers(seeds...)
			res := e.run(e.runner(cfg), store.ModeApply)
			if res.Run.Counts.Create != people || res.Run.Counts.Assign != people {
				t.Fatalf("%d created, %d assigned; want %d each", res.Run.Counts.Create, res.Run.Counts.Assign, people)
			}

			count := map[string]int{}
			items := map[string]float64{}
			for _, l := range buf.lines(t) {
				msg, _ := l["msg"].(string)
				count[msg]++
				switch msg {
				case "skills created":
					n, _ := l["items"].(float64)
					items[msg] += n
					if names, _ := l["skills"].([]any); len(names) != int(n) {
						t.Errorf("%q names %d skills for %v items", msg, len(names), n)
					}
				case "users updated":
					n, _ := l["users"].(float64)
					items[msg] += n
				}
			}
			batches := (people + batch - 1) / batch
			for _, msg := range []string{"skills created", "users updated"} {
				if count[msg] != batches || items[msg] != people {
					t.Errorf("%d %q lines for %v items; want %d lines for %d", count[msg], msg, items[msg], batches, people)
				}
			}
			for _, msg := range []string{"skill created", "user skills updated"} {
				if count[msg] != tt.perItem*people {
					t.Errorf("%d %q lines at level %s; want %d", count[msg], msg, tt.level, tt.perItem*people)
				}
			}
		})
	}
}
