package sync

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/skillsync/skillsync/hrsource"
)

// readCSV reads csv as the CSV source does.
func readCSV(t *testing.T, csv string) *hrsource.Snapshot {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hr.csv")
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := hrsource.New(hrsource.Config{Type: "csv", Path: path, Fields: hrsource.FieldsConfig{ID: "id", Email: "email"},
		Active: `status == "active"`, MultiValue: map[string]string{"langs": ";"}}, hrsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestFingerprint: the order of records and of columns does not change the
// fingerprint (the plan does not depend on them); any value does.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	base := Fingerprint(readCSV(t, "id,email,dept,status,langs\n1,a@x,Sales,active,de;fr\n2,b@x,Billing,active,\n"))
	if len(base) != 64 {
		t.Fatalf("fingerprint %q: want SHA-256 hex", base)
	}
	tests := []struct {
		name string
		csv  string
		same bool
	}{
		{"records reordered", "id,email,dept,status,langs\n2,b@x,Billing,active,\n1,a@x,Sales,active,de;fr\n", true},
		{"columns reordered", "langs,status,dept,email,id\nde;fr,active,Sales,a@x,1\n,active,Billing,b@x,2\n", true},
		{"an attribute", "id,email,dept,status,langs\n1,a@x,Sales,active,de;fr\n2,b@x,Support,active,\n", false},
		{"an email", "id,email,dept,status,langs\n1,a@x,Sales,active,de;fr\n2,c@x,Billing,active,\n", false},
		{"active", "id,email,dept,status,langs\n1,a@x,Sales,active,de;fr\n2,b@x,Billing,left,\n", false},
		{"a record more", "id,email,dept,status,langs\n1,a@x,Sales,active,de;fr\n2,b@x,Billing,active,\n3,c@x,Sales,active,\n", false},
		{"values moved between columns", "id,email,dept,status,langs\n1,a@x,Salesactive,,de;fr\n2,b@x,Billing,active,\n", false},
		{"a column more", "id,email,dept,status,langs,site\n1,a@x,Sales,active,de;fr,\n2,b@x,Billing,active,,\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Fingerprint(readCSV(t, tt.csv)); (got == base) != tt.same {
				t.Errorf("fingerprint %s, base %s: same = %v, want %v", got, base, got == base, tt.same)
			}
		})
	}
}
