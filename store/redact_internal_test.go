package store

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// FuzzScrubPassword: whatever the password and the rest of a malformed
// database URL, the error Open reports never contains the password.
func FuzzScrubPassword(f *testing.F) {
	for _, seed := range []struct{ pw, host string }{
		{"s3cr3tpw", "127.0.0.1:notaport"},
		{"p@ss/word", "db.example.com:5432"},
		{"pa:ss%zz", "[::1"},
		{"secret#1", "host:1:2"},
		{"hunter22", "h?sslmode=bogus"},
	} {
		f.Add(seed.pw, seed.host)
	}
	f.Fuzz(func(t *testing.T, pw, host string) {
		if len(pw) < 6 || strings.ContainsAny(pw, " \t\r\n") || strings.Contains("postgres://user:@/db", pw) {
			t.Skip() // too short or too common to tell a leak from the URL's own text
		}
		conn := "postgres://user:" + pw + "@" + host + "/db"
		_, err := pgxpool.ParseConfig(conn)
		if err == nil {
			return
		}
		if msg := scrubPassword(err.Error(), conn); strings.Contains(msg, pw) {
			t.Errorf("error for %q reveals the password: %s", conn, msg)
		}
	})
}
