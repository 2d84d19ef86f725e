package sync

import (
	"time"

	"github.com/skillsync/skillsync/liveperson"
)

// SkillsConfig is the `skills:` section of the configuration: the rules that
// turn HR records into desired skills.
type SkillsConfig struct {
	// AdoptExisting lets a rule take over an existing, unowned skill whose
	// name it produces (the plan shows the adoption and its field changes).
	AdoptExisting bool `yaml:"adopt_existing"`
	// Defaults apply to every rule's and static skill's settings.
	Defaults Settings `yaml:"defaults"`
	Rules    []Rule   `yaml:"rules"`
	Static   []Static `yaml:"static"`
	// NameMaxLength bounds skill names (default 64; LivePerson documents none).
	NameMaxLength int `yaml:"name_max_length"`
	// PrecreateDays creates a skill up to this many days before dated
	// records (hr.fields.start_date) bring its group to min_members
	// (default 0: on the day).
	PrecreateDays int `yaml:"precreate_days"`
}

// Rule turns records into skills.
type Rule struct {
	ID string `yaml:"id"`
	// Name and Description are Go templates over a record's attributes
	// (functions: lower, upper, title, trim, replace OLD NEW S; a missing
	// attribute is an error). The registry key is the rule id plus the
	// values of the attributes Name reads, so editing the template while
	// reading the same attributes renames skills in place. A description
	// reading attributes the name does not is rendered from the skill's
	// first member in feed order.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// When is an expr-lang expression selecting records (empty: all).
	When string `yaml:"when"`
	// ForEach names a multi-valued attribute: one skill per value. Inside
	// the rule (when, name, description) the attribute's own name is bound
	// to the single value, so `{{ .Languages }} speakers` and
	// `Languages != "Latin"` read naturally. The value is part of the
	// skill's registry key.
	ForEach string `yaml:"for_each"`
	// MinMembers is the least number of active members a skill needs.
	MinMembers int      `yaml:"min_members"`
	Settings   Settings `yaml:"settings"`
}

// Static is a skill that exists regardless of HR records.
type Static struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Settings    Settings `yaml:"settings"`
}

// Settings carry the LivePerson skill fields a rule sets, by their keys in
// the table of skill fields (liveperson.SkillFields). Nil means "not
// managed by skillsync": the field is left as LivePerson has it.
type Settings = liveperson.SkillSettings

// AssignmentsConfig is the `assignments:` section. Start from
// DefaultAssignmentsConfig: a zero value means what it says (KeepUnmatched
// false, MaxChangesPercent 0).
type AssignmentsConfig struct {
	Enabled bool `yaml:"enabled"`
	// Match is email or login_name (default email).
	Match string `yaml:"match"`
	// MaxChangesPercent caps the share of the users who can hold skills
	// (not deleted, not bots or API users, with an agent profile when
	// AgentProfileIDs is set; disabled users do not count) that may lose
	// skills in one run. Above it, no removal is made at all and the run is
	// refused (exit 3), everything else in it applied, until the mismatch
	// ends or the cap is raised. 0 lets no user lose a skill, a negative
	// value (-1) switches the cap off (default 20). A positive cap lets at
	// least one user lose skills, so that a small account converges.
	MaxChangesPercent float64 `yaml:"max_changes_percent"`
	// KeepUnmatched leaves LivePerson users that match no HR record alone
	// (default true). Set to false, such users are treated as departed and
	// lose the skills skillsync owns (skills it does not own always stay):
	// a broken match field then makes everyone departed, which only
	// max_changes_percent stops.
	KeepUnmatched bool `yaml:"keep_unmatched"`
	// AgentProfileIDs, when set, are the LivePerson profile ids that make
	// a user an agent: only users with one of them are matched and given
	// skills. Empty (the default): profiles are not checked (LivePerson
	// documents no fixed id for the Agent profile, and skillsync does not
	// read the Profiles API).
	AgentProfileIDs []int64 `yaml:"agent_profile_ids"`
}

// Policy names which kinds of change a run may make.
type Policy string

// Policies.
const (
	PolicySync       Policy = "sync"        // create, update, delete
	PolicyUpsertOnly Policy = "upsert-only" // create, update
	PolicyCreateOnly Policy = "create-only" // create
)

// SyncConfig is the `sync:` section: policy and guards. Start from
// DefaultSyncConfig (the configuration loader decodes the file on top of
// it): every value is used as written, so an explicit 0 is a real setting,
// never "use the default". Negative values (-1) switch a guard off where
// that is allowed.
type SyncConfig struct {
	// Policy is sync, upsert-only or create-only (default sync).
	Policy Policy `yaml:"policy"`
	// MinRecords refuses a run whose feed has fewer records (default 1;
	// 0: no minimum).
	MinRecords int `yaml:"min_records"`
	// MaxActiveDropPercent refuses a run whose active headcount fell by
	// more than this against the last snapshot an apply run accepted
	// (default 20; 0: any drop refuses; -1: off).
	MaxActiveDropPercent float64 `yaml:"max_active_drop_percent"`
	// MaxDeletes caps the deletes of one run (default 10; 0: no deletes,
	// every skill due stays pending; -1: no count limit).
	MaxDeletes int `yaml:"max_deletes"`
	// MaxDeletePercent caps the deletes of one run as a share of the owned
	// skills (default 25; 0: no deletes; -1: no limit). A positive share
	// allows at least one delete, so that a small account converges.
	MaxDeletePercent float64 `yaml:"max_delete_percent"`
	// DeleteAfterRuns is the number of consecutive apply runs an owned
	// skill must be missing from the rules' output before it is deleted
	// (default 2; must be at least 1: 1 deletes in the first run without
	// it).
	DeleteAfterRuns int `yaml:"delete_after_runs"`
	// RequiredFields are record fields (id, email, login_name, name or an
	// attribute) that every record must have non-empty.
	RequiredFields []string `yaml:"required_fields"`
	// MaxConflictRetries bounds re-plans after revision conflicts in one
	// run (default 3; 0: none, the run stops at the first conflict and the
	// next run continues).
	MaxConflictRetries int `yaml:"max_conflict_retries"`
	// LookaheadDays is how far ahead a plan lists the upcoming changes
	// of dated records (default 14; 0: none).
	LookaheadDays int `yaml:"lookahead_days"`
	// PlanMaxAge is how old a stored plan may be and still be applied by
	// `skillsync apply` (default 24h); an older one is stale.
	PlanMaxAge time.Duration `yaml:"plan_max_age"`
}
