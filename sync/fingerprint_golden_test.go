package sync

import "testing"

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
