// Package lpsim is an in-memory simulator of the LivePerson endpoints that
// skillsync uses: the Domain API, Sentinel (OAuth 2.0 client credentials),
// OAuth 1.0 request verification, the Login Service, the Skills API and the
// Users API, for one account, with fault injection and a request log.
//
// It follows docs/liveperson-api.md rather than what is convenient for our
// client: code that passes against lpsim should work against LivePerson.
// Skills and users are stored as raw JSON objects, so fields lpsim does not
// know about round-trip unchanged (numbers exactly, as json.Number).
//
// Where LivePerson's behaviour is undocumented, lpsim picks the stricter
// plausible reading, so a client that copes with lpsim copes with either:
//
//   - Domain API: an unknown account gets 401, an unknown service 400,
//     a missing version 400. Every service's baseURI is the simulator's own
//     host:port (the Host the client used).
//   - Skills/Users: bad or expired credentials get 401; valid credentials
//     on another account's path 403; a missing or non-numeric v 400; a body
//     without Content-Type application/json 415; PUT/DELETE without an
//     X-HTTP-Method-Override naming the same verb 400 (POST with the header
//     tunnels PUT/DELETE, which is what the header is for).
//   - Revisions: one counter per account, shared by skills and users,
//     bumped once per successful write request (a batch counts once).
//     Successful responses carry ac-revision and a quoted ETag; refusals
//     carry neither. PUT/DELETE need If-Match (428 when missing); "-1" and
//     "*" are refused (400); a stale value gets Options.ConflictStatus (409
//     or 412). POST ignores If-Match, as LivePerson documents none on
//     Create: a create succeeds whatever changed since the client's read
//     (Options.EnforceIfMatchOnCreate checks it as on PUT). A GET whose
//     If-Match equals the revision gets 304.
//   - A create answers 201 with the created skills and their ids, or, per
//     Options.CreateResponse, with no body or without ids (the body of a
//     batch create is undocumented).
//   - Validation is all or nothing: a batch with a bad item is refused
//     whole, naming the first bad item by index (and id): 400 for invalid
//     items, 404 for unknown ids. Whether LivePerson's batches are atomic
//     is undocumented (open question 4): a client must not conclude from
//     an error that nothing was applied. Fault.PartialApply models a batch
//     applied in part before the error.
//   - Skill names are unique case-insensitively (and ignoring surrounding
//     spaces) among all skills, deleted ones included.
//   - PUT replaces the whole object: fields missing from the body are gone
//     (skills keep id and deleted). Users' fullName and employeeId are read
//     back as "" but stored as sent, so a PUT of what was read blanks them.
//   - Deleting a skill that a non-deleted user (skillIds) or another
//     non-deleted skill outside the request (skillTransferList,
//     fallbackSkill) references is refused with 400 and a body of
//     "type":"skill-dependencies" listing what holds each skill. Deleting an
//     already deleted skill is 404. Batch delete takes id strings only.
//   - Reads are consistent with the writes before them, unless a Fault.Lag
//     makes a list read answer as the account stood some changes ago
//     (whether LivePerson's reads lag is open question 11).
//   - Sentinel tokens and Login Service sessions live Options.TokenTTL;
//     OAuth 1.0 timestamps must be within 5 minutes and nonces are single-use.
//
// Tests use New, Serve and the seeding, inspection and fault methods; the
// demo uses Start.
//
// In the house (README, Layout; e2e/layout_test.go), it imports liveperson (its types and the table of skill fields) only.
package lpsim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skillsync/skillsync/liveperson"
)

// Options configures a Sim. Zero values get the defaults named per field.
type Options struct {
	// AccountID is the one account the simulator serves (default "12345678").
	AccountID string

	// ClientID and ClientSecret are the OAuth 2.0 client credentials Sentinel
	// accepts (and that Login Service accepts as appKey/secret of an OAuth 2.0
	// bot).
	ClientID, ClientSecret string

	// AppKey, Secret, AccessToken and AccessTokenSecret are the OAuth 1.0 API
	// key: consumer key, consumer secret, token and token secret.
	AppKey, Secret, AccessToken, AccessTokenSecret string

	// Username and Password are the Login Service user credentials; Username
	// is also the bot user name of an application login.
	Username, Password string

	// ConflictStatus is the status of a write whose If-Match is stale
	// (default 409). Undocumented by LivePerson, so tests run both 409 and 412.
	ConflictStatus int

	// TokenTTL is the lifetime of Sentinel tokens and Login Service sessions
	// (default 1h, the exp-iat of LivePerson's sample JWT).
	TokenTTL time.Duration

	// Latency is added before every request is handled.
	Latency time.Duration

	// Now is the simulator's clock (default time.Now). Tests move it to expire
	// tokens or leave the OAuth 1.0 timestamp window without sleeping.
	Now func() time.Time

	// EnforceIfMatchOnCreate makes POST /skills check If-Match when sent,
	// like PUT and DELETE. Off by default: LivePerson's Create page lists no
	// If-Match, so a faithful simulator ignores it and a create goes through
	// whatever else changed since the client's read. Turn it on to test a
	// server that does check.
	EnforceIfMatchOnCreate bool

	// CreateResponse is what a successful POST /skills answers (201 either
	// way): CreateResponseFull (default) the created skills with their ids,
	// CreateResponseEmpty no body at all, CreateResponseNoIDs the skills
	// without "id". LivePerson documents no response body for a batch
	// create, so a client must cope with all three.
	CreateResponse string
}

// Values of Options.CreateResponse.
const (
	CreateResponseFull  = "full"
	CreateResponseEmpty = "empty"
	CreateResponseNoIDs = "no-ids"
)

// Default option values.
const (
	DefaultAccountID = "12345678"
	DefaultTokenTTL  = time.Hour
)

// oauth1Window is how far an OAuth 1.0 timestamp may be from the server's
// clock. Undocumented by LivePerson; five minutes is the common choice.
const oauth1Window = 5 * time.Minute

// Sim is a simulated LivePerson account. It is an http.Handler and safe for
// concurrent use.
type Sim struct {
	opts   Options
	mux    *http.ServeMux
	jwtKey []byte

	mu          sync.Mutex
	revision    int64
	nextSkillID int64
	nextUserID  int64
	skills      map[int64]*record
	skillIDs    []int64          // sorted
	skillNames  map[string]int64 // folded name -> id, deleted skills included
	users       map[int64]*record
	userIDs     []int64 // sorted
	tokens      map[string]time.Time
	sessions    map[string]*session // by Session_id cookie
	bearers     map[string]*session // by login bearer
	nonces      map[string]time.Time
	faults      []*faultState
	latency     time.Duration
	log         []Request
	// history holds the latest account changes, oldest first, and pending
	// the one being made, for lagging reads (Fault.Lag).
	history []*change
	pending *change
}

// record is one stored skill or user. obj is never mutated once stored (a
// write stores a new map), so handlers can encode it after unlocking.
type record struct {
	id      int64
	obj     map[string]any
	deleted bool
	// refs are the skill ids the object references, by field, parsed once
	// at store time for the dependency check: a user's skillIds; a
	// skill's fields that name skills (liveperson.SkillField.SkillRefs).
	refs []fieldRefs
	// enc is the JSON of the object as returned with all fields (for users,
	// with masked fields blanked), cached because lists are read far more
	// often than written.
	enc []byte
}

// New returns a simulator with no skills and no users at revision 1.
func New(opts Options) *Sim {
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.ConflictStatus == 0 {
		opts.ConflictStatus = http.StatusConflict
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch opts.CreateResponse {
	case "":
		opts.CreateResponse = CreateResponseFull
	case CreateResponseFull, CreateResponseEmpty, CreateResponseNoIDs:
	default:
		// A typo would silently test the default; fail the test instead.
		panic(fmt.Sprintf("lpsim: unknown Options.CreateResponse %q", opts.CreateResponse))
	}
	s := &Sim{
		opts:        opts,
		jwtKey:      []byte(randomHex(32)),
		revision:    1,
		nextSkillID: 4120000001,
		nextUserID:  3700000001,
		skills:      map[int64]*record{},
		skillNames:  map[string]int64{},
		users:       map[int64]*record{},
		tokens:      map[string]time.Time{},
		sessions:    map[string]*session{},
		bearers:     map[string]*session{},
		nonces:      map[string]time.Time{},
		latency:     opts.Latency,
	}
	s.routes()
	return s
}

// AccountID returns the account the simulator serves.
func (s *Sim) AccountID() string { return s.opts.AccountID }

func (s *Sim) now() time.Time { return s.opts.Now() }

func (s *Sim) routes() {
	m := http.NewServeMux()
	acc := "/api/account/{acc}"
	m.HandleFunc(acc+"/service/{name}/baseURI.json", s.handleDomain)
	m.HandleFunc(acc+"/service/baseURI.json", s.handleDomainAll)
	m.HandleFunc("/sentinel/api/v2/account/{acc}/app/token", s.handleToken)
	m.HandleFunc(acc+"/login", s.handleLogin)
	m.HandleFunc(acc+"/refresh", s.handleRefresh)
	m.HandleFunc(acc+"/logout", s.handleLogout)
	m.HandleFunc(acc+"/configuration/le-users/skills", s.config(s.skillsCollection))
	m.HandleFunc(acc+"/configuration/le-users/skills/{id}", s.config(s.skillsItem))
	m.HandleFunc(acc+"/configuration/le-users/users", s.config(s.usersCollection))
	m.HandleFunc(acc+"/configuration/le-users/users/{id}", s.config(s.usersItem))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	s.mux = m
}

// Revision returns the account's current data revision.
func (s *Sim) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revision
}

// SeedSkills stores skills as given (no validation, no defaults) and returns
// their ids. A seed with an "id" keeps it; others get the next free id. The
// revision is bumped once.
func (s *Sim) SeedSkills(skills ...map[string]any) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(skills))
	for _, in := range skills {
		obj := deepCopy(in)
		id, ok := int64Of(obj["id"])
		if !ok || id <= 0 || s.skills[id] != nil {
			id = s.nextSkillID
		}
		if id >= s.nextSkillID {
			s.nextSkillID = id + 1
		}
		obj["id"] = id
		if _, ok := obj["deleted"]; !ok {
			obj["deleted"] = false
		}
		s.putSkill(id, obj)
		ids = append(ids, id)
	}
	s.bumpRevisionLocked()
	return ids
}

// SeedUsers stores users as given and returns their ids, like SeedSkills.
// As in LivePerson, a PUT needs loginName, email and profileIds, so seeds
// that later get updated should carry them.
func (s *Sim) SeedUsers(users ...map[string]any) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(users))
	for _, in := range users {
		obj := deepCopy(in)
		id, ok := int64Of(obj["id"])
		if !ok || id <= 0 || s.users[id] != nil {
			id = s.nextUserID
		}
		if id >= s.nextUserID {
			s.nextUserID = id + 1
		}
		obj["id"] = id
		s.putUser(id, obj)
		ids = append(ids, id)
	}
	s.bumpRevisionLocked()
	return ids
}

// Skills returns copies of the stored skills in id order. Numbers are
// json.Number, as a client decoding with UseNumber sees them, except "id",
// which is an int64 for convenience.
func (s *Sim) Skills(includeDeleted bool) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.skillIDs))
	for _, id := range s.skillIDs {
		rec := s.skills[id]
		if rec.deleted && !includeDeleted {
			continue
		}
		out = append(out, copyWithID(rec))
	}
	return out
}

func copyWithID(rec *record) map[string]any {
	obj := deepCopy(rec.obj)
	obj["id"] = rec.id
	return obj
}

// Users returns copies of the stored users in id order, with the values
// stored for masked fields (fullName, employeeId), which the API blanks.
// Numbers are json.Number except "id", an int64, as in Skills.
func (s *Sim) Users() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.userIDs))
	for _, id := range s.userIDs {
		out = append(out, copyWithID(s.users[id]))
	}
	return out
}

// EditSkill applies fn to a copy of skill id and stores the result, bumping
// the revision: an edit by someone else in LivePerson's UI. It panics if the
// skill does not exist, since that is a mistake in the test.
func (s *Sim) EditSkill(id int64, fn func(map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.skills[id]
	if rec == nil {
		panic(fmt.Sprintf("lpsim: EditSkill: no skill %d", id))
	}
	obj := deepCopy(rec.obj)
	fn(obj)
	obj["id"] = id
	if name, ok := rec.obj["name"].(string); ok && s.skillNames[foldName(name)] == id {
		delete(s.skillNames, foldName(name))
	}
	s.putSkill(id, obj)
	s.bumpRevisionLocked()
}

// EditUser applies fn to a copy of user id and stores the result, bumping
// the revision, like EditSkill.
func (s *Sim) EditUser(id int64, fn func(map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.users[id]
	if rec == nil {
		panic(fmt.Sprintf("lpsim: EditUser: no user %d", id))
	}
	obj := deepCopy(rec.obj)
	fn(obj)
	obj["id"] = id
	s.putUser(id, obj)
	s.bumpRevisionLocked()
}

// putSkill stores obj as skill id. Callers hold s.mu and own obj.
// fieldRefs are the skill ids one field of an object names.
type fieldRefs struct {
	field string
	ids   []int64
}

// skillRefFields are the skill fields that name other skills.
var skillRefFields = func() []liveperson.SkillField {
	var out []liveperson.SkillField
	for _, f := range liveperson.SkillFields() {
		if f.SkillRefs {
			out = append(out, f)
		}
	}
	return out
}()

func (s *Sim) putSkill(id int64, obj map[string]any) {
	s.noteSkillLocked(id)
	if _, ok := s.skills[id]; !ok {
		s.skillIDs = insertSorted(s.skillIDs, id)
	}
	deleted, _ := boolOf(obj["deleted"])
	var refs []fieldRefs
	for _, f := range skillRefFields {
		var ids []int64
		if f.Kind == liveperson.KindIDs {
			ids, _ = idList(obj[f.Wire])
		} else if id, ok := int64Of(obj[f.Wire]); ok {
			ids = []int64{id}
		}
		if len(ids) > 0 {
			refs = append(refs, fieldRefs{field: f.Wire, ids: ids})
		}
	}
	s.skills[id] = &record{id: id, obj: obj, deleted: deleted, refs: refs, enc: mustMarshal(obj)}
	if name, ok := obj["name"].(string); ok {
		s.skillNames[foldName(name)] = id
	}
}

// putUser stores obj as user id. Callers hold s.mu and own obj.
func (s *Sim) putUser(id int64, obj map[string]any) {
	s.noteUserLocked(id)
	if _, ok := s.users[id]; !ok {
		s.userIDs = insertSorted(s.userIDs, id)
	}
	deleted, _ := boolOf(obj["deleted"])
	refs, _ := idList(obj["skillIds"])
	s.users[id] = &record{id: id, obj: obj, deleted: deleted, refs: []fieldRefs{{field: "skillIds", ids: refs}}, enc: mustMarshal(maskUser(obj))}
}

// maskedUserFields are returned empty by the newest Users API (PII masking)
// although LivePerson keeps them; a full-replacement PUT of what was read
// therefore blanks them, which is the risk lpsim models.
var maskedUserFields = []string{"fullName", "employeeId"}

func maskUser(obj map[string]any) map[string]any {
	var masked map[string]any
	for _, f := range maskedUserFields {
		if _, ok := obj[f]; ok {
			if masked == nil {
				masked = shallowCopy(obj)
			}
			masked[f] = ""
		}
	}
	if masked == nil {
		return obj
	}
	return masked
}

func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func insertSorted(ids []int64, id int64) []int64 {
	if n := len(ids); n == 0 || ids[n-1] < id {
		return append(ids, id)
	}
	i, _ := slices.BinarySearch(ids, id)
	return slices.Insert(ids, i, id)
}

// foldName is the key for name uniqueness: LivePerson says names are unique
// without saying how; lpsim compares case-insensitively, the stricter choice.
func foldName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// deepCopy copies a JSON-like value by a JSON round trip, which also
// normalises Go types (int → json.Number) the way a request body would be.
func deepCopy(in map[string]any) map[string]any {
	if in == nil {
		return map[string]any{}
	}
	b, err := json.Marshal(in)
	if err != nil {
		panic(fmt.Sprintf("lpsim: value is not JSON: %v", err))
	}
	var out map[string]any
	if err := decodeJSON(b, &out); err != nil {
		panic(fmt.Sprintf("lpsim: value is not JSON: %v", err))
	}
	return out
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("lpsim: marshal: %v", err))
	}
	return b
}

// int64Of reads an id-like value: a JSON number, a numeric string (LivePerson
// mixes both) or a Go integer.
func int64Of(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	}
	return 0, false
}

func boolOf(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
