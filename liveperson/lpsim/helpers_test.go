package lpsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

const (
	testAccount = "90210"
	skillsPath  = "/api/account/" + testAccount + "/configuration/le-users/skills"
	usersPath   = "/api/account/" + testAccount + "/configuration/le-users/users"
)

func testOptions() Options {
	return Options{
		AccountID:         testAccount,
		ClientID:          "client-1",
		ClientSecret:      "s3cret&+/=",
		AppKey:            "app-key",
		Secret:            "consumer-secret",
		AccessToken:       "access-token",
		AccessTokenSecret: "token-secret",
		Username:          "bot",
		Password:          "pw",
	}
}

type env struct {
	t     testing.TB
	sim   *Sim
	srv   *Server
	c     *http.Client
	token string
}

// setup starts a simulator over TLS and fetches a Sentinel token that do()
// sends as Bearer.
func setup(t testing.TB, edit ...func(*Options)) *env {
	t.Helper()
	opts := testOptions()
	for _, f := range edit {
		f(&opts)
	}
	sim := New(opts)
	srv := Serve(sim)
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: sim, srv: srv, c: srv.Client()}
	e.token = e.sentinelToken()
	sim.ResetLog()
	return e
}

func (e *env) sentinelToken() string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"client-1"}, "client_secret": {"s3cret&+/="}}
	res, err := e.c.Post(e.srv.URL()+"/sentinel/api/v2/account/"+testAccount+"/app/token",
		"application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if res.StatusCode != 200 {
		e.t.Fatalf("token: status %d", res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil {
		e.t.Fatal(err)
	}
	return tok.AccessToken
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (r resp) list(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	r.json(t, &out)
	return out
}

func (r resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var out map[string]any
	r.json(t, &out)
	return out
}

// req is one request for do(). Headers are added as given; Authorization
// defaults to the env's bearer token and X-HTTP-Method-Override to the
// method for PUT and DELETE.
type req struct {
	method, path string
	body         any
	header       map[string]string
	noAuth       bool
}

func (e *env) do(q req) resp {
	e.t.Helper()
	var body io.Reader
	switch b := q.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	r, err := http.NewRequest(q.method, e.srv.URL()+q.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	if !q.noAuth {
		r.Header.Set("Authorization", "Bearer "+e.token)
	}
	if q.method == http.MethodPut || q.method == http.MethodDelete {
		r.Header.Set("X-HTTP-Method-Override", q.method)
	}
	for k, v := range q.header {
		if v == "" {
			r.Header.Del(k)
			continue
		}
		r.Header.Set(k, v)
	}
	res, err := e.c.Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// rev is the current revision as an If-Match header map.
func (e *env) rev() map[string]string {
	return map[string]string{"If-Match": strconv.FormatInt(e.sim.Revision(), 10)}
}

func (e *env) mustStatus(r resp, want int) {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
}

func num(v any) int64 {
	n, ok := int64Of(v)
	if !ok {
		panic("not a number: " + strings.TrimSpace(strings.ReplaceAll(string(mustMarshal(v)), "\n", "")))
	}
	return n
}

func idStr(id int64) string { return strconv.FormatInt(id, 10) }
