// Package liveperson is skillsync's client for LivePerson's Conversational
// Cloud APIs: service discovery, authentication, the Skills API and the Users
// API, with LivePerson's retry policy and typed errors.
//
// # Revisions and If-Match
//
// LivePerson keeps one revision counter per account, shared by skills and
// users. The revision is a value the caller holds, never state inside the
// client: the list reads (ListSkillsAt, ListUsersAt) return the revision
// they were read at, every write takes the revision to send as If-Match
// and returns the revision the caller's next write sends (the answer's,
// or the one sent when the answer carries none). The bodies a caller
// writes must come from the read whose revision it sends: bodies from an
// older read sent with a newer revision would overwrite whatever changed
// in between, unseen. A caller that reads skills and then users plans
// only from lists read at the same revision (re-reading until they
// agree), and plans again after any later read. A write given no revision
// ("") reads the current one first, so nothing goes out without If-Match.
//
// Creates are different: LivePerson documents no If-Match on create, so a
// POST succeeds whatever changed since the caller's read, and its answer's
// revision may include someone else's edit. The client still sends
// If-Match (a server that checks it refuses a stale create), but returns
// the create's revision only when that is exactly one more than the
// If-Match sent, i.e. the create was the only change. Otherwise
// CreateSkills returns the created skills with an error matching
// ErrStateChanged and the revision sent, so a PUT or DELETE without a
// re-read gets ErrConflict instead of overwriting.
//
// # Outcomes of a create
//
// Batches are not documented as atomic, and a POST is never replayed once
// it may have reached LivePerson. CreateSkills returns either the created
// skills (with nil, or with ErrStateChanged: created, but re-read and
// re-plan before other writes), or an error matching ErrOutcomeUnknown when
// anything may have been created that the client cannot name (a lost or
// 5xx answer, a 4xx refusing a batch of several items, a 2xx whose skills
// it could not all identify), or another error when nothing was created.
// After ErrOutcomeUnknown the caller re-reads with include_deleted, matches
// by name and creates only what is missing; the client never re-reads on
// its own (lost-create reconciliation has one home: the sync engine's
// applier).
//
// # Skill fields
//
// Every typed field of Skill is declared once, in the table of skill
// fields (SkillFields, fields.go): its configuration key, wire name, type,
// LivePerson's default, how it is decoded, encoded, compared and shown,
// and, for a field a configuration sets, its SkillSettings field. The
// codec, lpsim and the sync engine loop over the table. Adding a field is
// a Skill field (and a SkillSettings field), one entry and tests;
// fields_test.go fails while any field lacks its entry.
//
// In the house (README, Layout; e2e/layout_test.go), it imports internal/secret and internal/jsonscan; never hrsource, store or sync.
package liveperson

import "encoding/json"

// Skill is a LivePerson skill as read with select=$all. Fields skillsync can
// manage are typed; every other field, known to LivePerson's docs or not, is
// kept in Extra as raw JSON and sent back unchanged on update.
//
// Pointer and nil-slice fields distinguish "absent/null" from a zero value:
// a nil SkillTransferList means "may transfer to any skill".
type Skill struct {
	ID          int64  `json:"-"`
	Name        string `json:"-"`
	Description string `json:"-"`
	Deleted     bool   `json:"-"`

	SkillOrder               *int    `json:"-"`
	MaxWaitTime              *int    `json:"-"`
	CanTransfer              *bool   `json:"-"`
	SkillTransferList        []int64 `json:"-"`
	WrapUpTime               *int    `json:"-"`
	SLADefaultResponseTime   *int    `json:"-"`
	SLAUrgentResponseTime    *int    `json:"-"`
	SLAFirstTimeResponseTime *int    `json:"-"`
	LobIDs                   []int64 `json:"-"`
	WorkingHoursID           *int64  `json:"-"`
	FallbackSkill            *int64  `json:"-"`

	// Extra holds every other field of the object as read, by JSON name.
	Extra map[string]json.RawMessage `json:"-"`
}

// User is a LivePerson user. Only SkillIDs is ever edited by skillsync; the
// whole object is kept as read so an update (a full replacement in the
// Users API) sends every other field back unchanged. Read its fields with
// Field or Fields and set one with SetField.
type User struct {
	ID        int64
	LoginName string
	Email     string
	SkillIDs  []int64
	Deleted   bool

	// Raw holds the object's fields by JSON name for a User built by hand,
	// or once SetField was called. A decoded user leaves it nil and keeps
	// the object's bytes instead (a map of a user's 30 fields takes 2.6 KB
	// where its JSON takes ~750 bytes); when Raw is set it is the object.
	Raw map[string]json.RawMessage

	// obj is the object as read (when Raw is nil), aliasing the response;
	// hot holds the values in obj of hotUserFields, the fields skillsync
	// reads of every user, nil when absent.
	obj []byte
	hot [len(hotUserFields)]json.RawMessage
}
