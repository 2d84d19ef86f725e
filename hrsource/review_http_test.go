package hrsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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

// TestHTTPPagesOverlap: a page that repeats ids of an earlier page (a
// paging that loops on fresh links, or SuccessFactors' default paging
// shifting while the data changes, SAP KBA 2723468) stops the read at
// once with what to do, instead of fetching hr.max_pages (10,000) pages
// of the same people and then blaming the export for duplicate ids.
func TestHTTPPagesOverlap(t *testing.T) {
	t.Parallel()
	loop, count := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		fmt.Fprintf(w, `{"data": [{"id": "a"}, {"id": "b"}], "next": "/report?cursor=%d"}`, n)
	})
	_, err := readHTTP(t, loop, Config{Fields: FieldsConfig{ID: "id"}, RecordsPath: "data", NextPagePath: "next"})
	checkProblems(t, err, []want{
		{"page 2: data[0]", []string{`duplicate id "a", also at page 1: data[0]`, "the pages overlap"}},
		{"page 2: data[1]", []string{`duplicate id "b", also at page 1: data[1]`, "the pages overlap"}},
	})
	if count.Load() != 2 {
		t.Errorf("%d requests, want 2", count.Load())
	}

	// Within one page, a duplicate is the data's: the usual message.
	dup, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		fmt.Fprint(w, `{"data": [{"id": "a"}, {"id": "a"}]}`)
	})
	_, err = readHTTP(t, dup, Config{Fields: FieldsConfig{ID: "id"}, RecordsPath: "data", NextPagePath: "next"})
	checkProblems(t, err, []want{{"page 1: data[1]", []string{`duplicate id "a"`}}})
	if strings.Contains(err.Error(), "overlap") {
		t.Errorf("a duplicate within one page blamed on the paging: %v", err)
	}

	// SuccessFactors without snapshot paging: the hint names it.
	f := &fakeSuccessFactors{user: "sfapi@ACME", password: "sf-password-a81f", users: sfUsers, pageSize: 2}
	f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 2 {
			// Someone was added before the cursor: page 2 starts one
			// person early.
			sel := [][]string{{"userId"}, {"email"}, {"status"}, {"empInfo", "jobInfoNav", "department"}}
			page := map[string]any{"d": map[string]any{"results": []any{sfProject(sfUsers[1], sel), sfProject(sfUsers[2], sel)},
				"__next": "https://" + r.Host + sfPath + "?$skiptoken=3"}}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(page)
			return true
		}
		return false
	}
	srv := fakeServer(t, f)
	cfg := sfConfig()
	cfg.URL = strings.Replace(cfg.URL, "paging=snapshot", "", 1)
	_, err = readVendor(t, srv, cfg, nil, nil)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.Contains(ve.Problems[0].Msg, "add paging=snapshot to hr.url") {
		t.Errorf("overlapping SuccessFactors pages = %v, want one problem naming paging=snapshot", err)
	}
	if f.log.count() != 2 {
		t.Errorf("%d requests after the overlap, want 2", f.log.count())
	}
}

// TestHTTPRedirectToSignIn: a redirect to another host, such as single
// sign-on's sign-in page, is not followed, and the message does not only
// send the operator to point hr.url at the sign-in page.
func TestHTTPRedirectToSignIn(t *testing.T) {
	t.Parallel()
	idp, idpCount := serve(t, func(w http.ResponseWriter, r *http.Request, n int) { fmt.Fprint(w, "<html>Sign in</html>") })
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, idp.URL+"/saml2/idp/sso?SAMLRequest=abc", http.StatusFound)
	})
	_, err := readHTTP(t, srv, Config{Fields: FieldsConfig{ID: "id"}, Auth: AuthConfig{Method: AuthBearer, Token: "bearer-token-0123456789"}})
	if err == nil || !strings.Contains(err.Error(), "another host: not followed") || !strings.Contains(err.Error(), "check hr.auth") {
		t.Errorf("redirect to a sign-in page = %v", err)
	}
	if idpCount.Load() != 0 {
		t.Errorf("the other host was asked %d times", idpCount.Load())
	}
}

// TestHTTPTimeoutSaysWhich: an attempt cut by hr.timeout (a large Workday
// report takes minutes) names the setting, whether the answer never came
// or its body stalled.
func TestHTTPTimeoutSaysWhich(t *testing.T) {
	t.Parallel()
	slow, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(200 * time.Millisecond)
		fmt.Fprint(w, `[{"id": "1"}]`)
	})
	stalled, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Length", "1000")
		fmt.Fprint(w, `[{"id": "1"}`)
		w.(http.Flusher).Flush()
		time.Sleep(200 * time.Millisecond)
	})
	for name, srv := range map[string]*httptest.Server{"no answer": slow, "stalled body": stalled} {
		_, err := readHTTP(t, srv, Config{Fields: FieldsConfig{ID: "id"}, Timeout: 50 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "within hr.timeout (50ms)") {
			t.Errorf("%s: %v, want it to name hr.timeout", name, err)
		}
	}
}

// TestHTTPTokenEndpointNotOAuth: a token endpoint answering 200 with
// something other than a token (a sign-in page: hr.auth.token_url points
// at the wrong place) is not retried, and the error says what to check.
func TestHTTPTokenEndpointNotOAuth(t *testing.T) {
	t.Parallel()
	var tokenRequests atomic.Int32
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/token" {
			tokenRequests.Add(1)
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>Sign in</html>")
			return
		}
		fmt.Fprint(w, `[{"id": "1"}]`)
	})
	_, err := readHTTP(t, srv, Config{Fields: FieldsConfig{ID: "id"}, Auth: AuthConfig{
		Method: AuthOAuth2ClientCredentials, ClientID: "skillsync", ClientSecret: "client-secret-0123", TokenURL: srv.URL + "/token"}})
	if err == nil || !strings.Contains(err.Error(), "check hr.auth.token_url") {
		t.Errorf("a sign-in page as the token endpoint = %v", err)
	}
	// x/oauth2 tries the client's credentials in a header, then in the form.
	if n := tokenRequests.Load(); n > 2 {
		t.Errorf("%d token requests: retried", n)
	}
}

// TestHTTPNotTheFeed: a sign-in page (with or without a byte order mark)
// or a JSON error answered 200 OK is named as such whatever hr.format,
// rather than read as a CSV header or blamed on the JSON syntax.
func TestHTTPNotTheFeed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, format, body, want string
	}{
		{"HTML as CSV", "csv", "<!DOCTYPE html><html><body>Sign in</body></html>", "HTML or XML, not CSV"},
		{"HTML with a BOM as JSON", "json", "\ufeff<!DOCTYPE html><html><body>Sign in</body></html>", "HTML or XML, not JSON"},
		{"JSON error as CSV", "csv", `{"error": "invalid_token", "message": "The access token expired"}`, `200 OK with an error instead of records ("invalid_token: The access token expired")`},
	} {
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) { fmt.Fprint(w, tt.body) })
		_, err := readHTTP(t, srv, Config{Format: tt.format, Fields: FieldsConfig{ID: "id"}})
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.Contains(ve.Problems[0].Msg, tt.want) {
			t.Errorf("%s: %v, want one problem saying %q", tt.name, err, tt.want)
		}
	}
}

// TestSuccessFactorsCount: with $inlinecount=allpages (an OData v2 system
// query option the SAP SuccessFactors HXM Suite OData API: Developer Guide
// lists, https://help.sap.com/docs/SAP_SUCCESSFACTORS_PLATFORM/d599f15995d348a1b45ba5603e2aba9b),
// SuccessFactors announces the size of the result (d.__count, a string in
// OData v2 JSON);
// pages that hold fewer (a __next left out mid-way: the rest would read as
// people who left) refuse the feed, pages that hold as many are read.
func TestSuccessFactorsCount(t *testing.T) {
	t.Parallel()
	sel := [][]string{{"userId"}, {"email"}, {"status"}, {"empInfo", "jobInfoNav", "department"}}
	serveCount := func(count string, pages [][]map[string]any) *fakeSuccessFactors {
		f := &fakeSuccessFactors{user: "sfapi@ACME", password: "sf-password-a81f", users: sfUsers, pageSize: 2}
		f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
			var results []any
			for _, u := range pages[n-1] {
				results = append(results, sfProject(u, sel))
			}
			d := map[string]any{"results": results, "__count": count}
			if n < len(pages) {
				d["__next"] = fmt.Sprintf("https://%s%s?$skiptoken=%d", r.Host, sfPath, n)
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"d": d})
			return true
		}
		return f
	}
	short := serveCount("5", [][]map[string]any{sfUsers[0:2], sfUsers[2:4]})
	_, err := readVendor(t, fakeServer(t, short), sfConfig(), nil, nil)
	checkProblems(t, err, []want{{"d.__count", []string{"announced 5 records and its pages held 4"}}})

	whole := serveCount("5", [][]map[string]any{sfUsers[0:2], sfUsers[2:4], sfUsers[4:5]})
	if snap, err := readVendor(t, fakeServer(t, whole), sfConfig(), nil, nil); err != nil || len(snap.Records) != 5 {
		t.Errorf("5 announced, 5 read: %v", err)
	}
}

// TestHTTPBodySecretsHidden: an API that takes its credentials in the POST
// body (hr.body: {"password": "${HR_PASSWORD}"}) has them hidden like any
// other secret when a server quotes the request back in an error.
func TestHTTPBodySecretsHidden(t *testing.T) {
	t.Parallel()
	const password, apiKey = "body-password-5a1c", "k3y"
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error": "invalid_request", "message": "cannot use %s"}`, body)
	})
	body := fmt.Sprintf(`{"login": {"user": "svc", "password": %q}, "apiKey": %q, "page_size": 500}`, password, apiKey)
	_, err := readHTTP(t, srv, Config{Fields: FieldsConfig{ID: "id"}, HTTPMethod: http.MethodPost, Body: body})
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("err = %v", err)
	}
	checkNoSecret(t, err.Error(), password, apiKey)
	if !strings.Contains(err.Error(), "svc") {
		t.Errorf("a value not named like a secret was hidden too: %v", err)
	}
}

func TestBodySecrets(t *testing.T) {
	t.Parallel()
	got := BodySecrets(`{"credentials": {"user": "svc", "passPhrase": "abc", "tenant": "long-tenant-name"}, "list": [{"token": "t0k"}], "page": "12345678", "x": "no"}`)
	slices.Sort(got)
	if want := []string{"abc", "long-tenant-name", "t0k"}; !slices.Equal(got, want) {
		t.Errorf("BodySecrets = %q, want %q", got, want)
	}
	if got := BodySecrets("not json"); got != nil {
		t.Errorf("BodySecrets(not json) = %q", got)
	}
}
