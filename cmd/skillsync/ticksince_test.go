package main

import (
	"testing"
	"time"
)

// The runs that count as a tick's are those begun since half the interval
// before it: the interval back to the tick before, not forward to the next
// one. With an uneven schedule (*/45: at :00 and :45; 9 and 17 o'clock),
// the gap forward can be twice the gap back or more, and the run of the
// previous tick, this replica's own, counted as this tick's: every other
// tick was skipped, forever.
func TestTickSinceUnevenSchedule(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		prev     string // the tick before, whose run must not count
		tick     string
		earliest string // the earliest start that may count, at most
	}{
		{"*/45 * * * *", "2026-12-02T00:45:00Z", "2026-12-02T01:00:00Z", "2026-12-02T00:52:30Z"},
		{"0 9,17 * * *", "2026-12-02T09:00:00Z", "2026-12-02T17:00:00Z", "2026-12-02T13:00:00Z"},
		{"0 9,10 * * *", "2026-12-02T09:00:00Z", "2026-12-02T10:00:00Z", "2026-12-02T09:30:00Z"},
		{"0 9 * * 1-5", "2026-12-04T09:00:00Z", "2026-12-07T09:00:00Z", "2026-12-06T21:00:00Z"},
		{"@every 30m", "2026-12-02T09:00:00Z", "2026-12-02T09:30:00Z", "2026-12-02T09:15:00Z"},
		{"@hourly", "2026-12-02T09:00:00Z", "2026-12-02T10:00:00Z", "2026-12-02T09:30:00Z"},
	} {
		sched, err := cronParser.Parse(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		prev, _ := time.Parse(time.RFC3339, tc.prev)
		tick, _ := time.Parse(time.RFC3339, tc.tick)
		earliest, _ := time.Parse(time.RFC3339, tc.earliest)
		// The cron fires a little after its time; the previous run began
		// a little after the previous tick.
		now := tick.Add(3 * time.Millisecond)
		since := tickSince(sched, now)
		if !prev.Add(50 * time.Millisecond).Before(since) {
			t.Errorf("%s at %s: runs since %s count as this tick's, the previous tick's run (%s) among them: the tick is skipped",
				tc.spec, tc.tick, since.Format(time.RFC3339), tc.prev)
		}
		if since.After(earliest.Add(time.Second)) || since.After(tick) {
			t.Errorf("%s at %s: runs since %s count as this tick's, want from %s at least (a replica ahead of this one)",
				tc.spec, tc.tick, since.Format(time.RFC3339Nano), tc.earliest)
		}
	}
}
