package hrsource

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestHTTPErrorAnswerNotCountedAsFeed: the body of an error answer (a
// gateway's large HTML 503 page) is not part of the feed: it neither
// counts against hr.max_bytes nor turns a retryable 503 or a 401 into "the
// feed is larger than hr.max_bytes".
func TestHTTPErrorAnswerNotCountedAsFeed(t *testing.T) {
	t.Parallel()
	page := strings.Repeat("<p>Service Unavailable</p>", 1000) // 26 kB
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, page)
			return
		}
		fmt.Fprint(w, `[{"id": "1"}]`)
	})
	snap, err := readHTTP(t, srv, Config{Fields: FieldsConfig{ID: "id"}, MaxBytes: 1024})
	if err != nil || len(snap.Records) != 1 || count.Load() != 2 {
		t.Fatalf("a 503 with a body larger than hr.max_bytes, then the feed: %v after %d requests, want the feed after a retry", err, count.Load())
	}

	denied, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "Unauthorized"+page)
	})
	_, err = readHTTP(t, denied, Config{Fields: FieldsConfig{ID: "id"}, MaxBytes: 1024})
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "max_bytes") {
		t.Errorf("a 401 with a large body = %v, want the 401", err)
	}
}
