// Package liveperson is skillsync's client for LivePerson's Conversational
// Cloud APIs: service discovery, authentication, the Skills API and the Users
// API, with LivePerson's retry policy and typed errors.
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

// User is a LivePerson user. Only SkillIDs is ever edited by skillsync; Raw
// keeps the whole object as read so an update (a full replacement in the
// Users API) sends every other field back unchanged.
type User struct {
	ID        int64
	LoginName string
	Email     string
	SkillIDs  []int64
	Deleted   bool

	Raw map[string]json.RawMessage
}
