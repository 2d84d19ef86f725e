package sync

import (
	"testing"

	"github.com/skillsync/skillsync/hrsource"
)

// TestFingerprintStable pins the fingerprint of two feeds: a stored plan
// keeps it, so the encoding hashed must not change from one version to
// the next (the values were made by the code before it shared one buffer
// between records).
func TestFingerprintStable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ csv, want string }{
		{"id,email,dept,status,langs\n1,a@x,Sales,active,de;fr\n2,b@x,Billing,active,\n", "0bd1a72feec789c3216db3e6bb47f358616d8df0080900eedfceb5d6226940d1"},
		{"id,email,dept,status,langs\n3,c@x,Ops,inactive,de\n1,a@x,Sales,active,\n2,b@x,Billing,active,fr\n", "7225f54f590f2ba381c88ffff9a70646538526bc114a1d7188c499b0da0b012f"},
	} {
		if got := Fingerprint(readCSV(t, tt.csv)); got != tt.want {
			t.Errorf("Fingerprint(%q) = %s, want %s", tt.csv, got, tt.want)
		}
	}
}

// TestFingerprintOrder: records are ordered as their encodings, by ids of
// any length (a 200-byte id's length prefix takes two bytes) and, should
// two records share an id, by the rest; the value was made by the code
// that sorted the whole encodings.
func TestFingerprintOrder(t *testing.T) {
	t.Parallel()
	recs := []hrsource.Record{
		{ID: "10", Email: "ten@x", Active: true},
		{ID: "9", Email: "b@x"},
		{ID: "9", Email: "a@x", Active: true},
		{ID: "", Email: "none@x"},
		{ID: string(make([]byte, 200)), Name: "long id"},
	}
	const want = "197bbecf5183f8426ce7173ce677ef768fc9dbf9349812f2f31ce4219ee4b617"
	for range 3 {
		if got := Fingerprint(&hrsource.Snapshot{Records: recs}); got != want {
			t.Fatalf("Fingerprint = %s, want %s (records %v)", got, want, recs)
		}
		recs = append(recs[1:], recs[0]) // any order
	}
}
