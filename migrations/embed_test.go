package migrations_test

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/migrations"
)

var fileName = regexp.MustCompile(`^(\d{5})_[a-z0-9_]+\.sql$`)

// TestFiles checks the embedded migrations: goose-style names with versions
// 1, 2, 3... in order, each with an Up section that runs in a transaction.
func TestFiles(t *testing.T) {
	t.Parallel()
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("%s: want NNNNN_description.sql", e.Name())
			continue
		}
		if v, _ := strconv.Atoi(m[1]); v != i+1 {
			t.Errorf("%s: version %d, want %d (no gaps, no duplicates)", e.Name(), v, i+1)
		}
		b, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if !strings.Contains(text, "-- +goose Up") {
			t.Errorf("%s: no \"-- +goose Up\" section", e.Name())
		}
		if strings.Contains(text, "+goose NO TRANSACTION") {
			t.Errorf("%s: every migration runs in its own transaction", e.Name())
		}
	}
}

func ExampleFS() {
	b, _ := fs.ReadFile(migrations.FS, "00001_initial.sql")
	fmt.Println(strings.Contains(string(b), "CREATE TABLE runs"))
	// Output: true
}
