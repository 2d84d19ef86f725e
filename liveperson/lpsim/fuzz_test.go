package lpsim

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func FuzzParseSelect(f *testing.F) {
	for _, s := range []string{"", "$all", "id,deleted,name", "id,skillRoutingConfiguration(priority,agentGroupId),name", "a((b),c", ",,", ")x("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sel := parseSelect(q, selector{"def"})
		for _, field := range sel {
			if field == "" || strings.ContainsAny(field, "(") {
				t.Errorf("parseSelect(%q) gave field %q", q, field)
			}
		}
		if strings.TrimSpace(q) == "$all" && sel != nil {
			t.Errorf("$all gave %v", sel)
		}
	})
}

func FuzzParseOAuthHeader(f *testing.F) {
	f.Add(`OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D"`, "value with spaces & =")
	f.Add(`OAuth a="%ZZ"`, "")
	f.Add(`Bearer x`, "ü")
	f.Fuzz(func(t *testing.T, header, value string) {
		_, _ = parseOAuthHeader(header)
		// What percentEncode writes, parseOAuthHeader reads back.
		got, err := parseOAuthHeader(`OAuth oauth_nonce="` + percentEncode(value) + `", x="1"`)
		if err != nil {
			t.Fatalf("value %q: %v", value, err)
		}
		if got["oauth_nonce"][0] != value {
			t.Errorf("round trip %q → %q", value, got["oauth_nonce"][0])
		}
	})
}

// FuzzCreateSkills sends arbitrary bodies to POST /skills: the simulator
// must not panic, and a refused batch must change nothing (all or nothing).
func FuzzCreateSkills(f *testing.F) {
	for _, s := range []string{
		`[{"name":"a"},{"name":"b","skillTransferList":[1,"2"]}]`,
		`[{"name":"a"},{"name":"A"}]`,
		`[{"name":"existing"}]`,
		`[{"description":"x"}]`,
		`{"name":"x"}`, `[]`, `[1]`, `[{"name":7}]`, `[{"name":"x","fallbackSkill":"y"}]`, `nul`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sim := New(Options{AccountID: "1", ClientID: "c", ClientSecret: "s"})
		sim.SeedSkills(map[string]any{"name": "existing"})
		sim.tokens["tok"] = time.Now().Add(time.Hour)
		rev := sim.Revision()
		r := httptest.NewRequest("POST", "/api/account/1/configuration/le-users/skills?v=4.0", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer tok")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("If-Match", strconv.FormatInt(rev, 10))
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusCreated:
			if sim.Revision() != rev+1 {
				t.Errorf("created without one revision bump")
			}
		case http.StatusBadRequest:
			if sim.Revision() != rev || len(sim.Skills(true)) != 1 {
				t.Errorf("refused batch changed state: %s", w.Body)
			}
		default:
			t.Errorf("status %d for %q", w.Code, body)
		}
	})
}
