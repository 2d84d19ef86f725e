package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/sync"
)

// AccountConfig is one entry of `accounts:` (design §7.1): a LivePerson
// account of its own, with the blocks it does not inherit. A block given
// here replaces the top-level one whole (its omitted keys take their
// defaults, not the top-level values); an omitted block is inherited.
type AccountConfig struct {
	Name        string                  `yaml:"name"`
	LivePerson  *liveperson.Config      `yaml:"liveperson,omitempty"`
	HR          *hrsource.Config        `yaml:"hr,omitempty"`
	Skills      *sync.SkillsConfig      `yaml:"skills,omitempty"`
	Assignments *sync.AssignmentsConfig `yaml:"assignments,omitempty"`
	Sync        *sync.SyncConfig        `yaml:"sync,omitempty"`
	// Schedule, when set, replaces the top-level schedule for this account.
	Schedule string `yaml:"schedule,omitempty"`
}

// DaemonConfig is the `daemon:` section.
type DaemonConfig struct {
	// Concurrency is how many accounts one replica runs at once.
	Concurrency int `yaml:"concurrency"`
}

// defaultConcurrency is daemon.concurrency's default.
const defaultConcurrency = 4

// accountName is what an account's name may be: it appears in metric
// labels, log lines, URLs and file names.
var accountName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Account is one account's effective configuration: its own blocks, or
// the top-level ones it inherits.
type Account struct {
	Name        string
	Schedule    string
	LivePerson  liveperson.Config
	HR          hrsource.Config
	Skills      sync.SkillsConfig
	Assignments sync.AssignmentsConfig
	Sync        sync.SyncConfig
	// key is the account's key path in the file ("accounts[1]"), empty
	// for the default account.
	key string
}

// ID is the LivePerson account id that keys the account's state.
func (a *Account) ID() string { return a.LivePerson.AccountID }

// AccountList returns the effective configuration of every account, in
// the order of the file: without `accounts:`, one named default made of
// the top-level blocks.
func (c *Config) AccountList() []Account {
	if len(c.Accounts) == 0 {
		return []Account{{Name: defaultAccount, Schedule: c.Schedule, LivePerson: c.LivePerson, HR: c.HR,
			Skills: c.Skills, Assignments: c.Assignments, Sync: c.Sync}}
	}
	out := make([]Account, len(c.Accounts))
	for i, ac := range c.Accounts {
		a := Account{Name: ac.Name, Schedule: c.Schedule, LivePerson: c.LivePerson, HR: c.HR, Skills: c.Skills,
			Assignments: c.Assignments, Sync: c.Sync, key: fmt.Sprintf("accounts[%d]", i)}
		if ac.Schedule != "" {
			a.Schedule = ac.Schedule
		}
		if ac.LivePerson != nil {
			a.LivePerson = *ac.LivePerson
		}
		if ac.HR != nil {
			a.HR = *ac.HR
		}
		if ac.Skills != nil {
			a.Skills = *ac.Skills
		}
		if ac.Assignments != nil {
			a.Assignments = *ac.Assignments
		}
		if ac.Sync != nil {
			a.Sync = *ac.Sync
		}
		out[i] = a
	}
	return out
}

// accountNames lists the names of accounts, for messages.
func accountNames(accounts []Account) string {
	names := make([]string, len(accounts))
	for i, a := range accounts {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

// selectAccounts returns the account named name, or every account when
// name is empty.
func (c *Config) selectAccounts(name string) ([]Account, error) {
	all := c.AccountList()
	if name == "" {
		return all, nil
	}
	for _, a := range all {
		if a.Name == name {
			return []Account{a}, nil
		}
	}
	return nil, fmt.Errorf("--account %s: no such account; the configuration has %s", name, accountNames(all))
}

// oneAccount returns the account named name; without a name, the only
// account, or an error naming them all when there are several (commands
// that work on one account's state: runs, release).
func (c *Config) oneAccount(name string) (Account, error) {
	accounts, err := c.selectAccounts(name)
	if err != nil {
		return Account{}, err
	}
	if len(accounts) > 1 {
		return Account{}, fmt.Errorf("the configuration has several accounts (%s): choose one with --account NAME", accountNames(accounts))
	}
	return accounts[0], nil
}

// decodeAccountBlocks decodes each block an account gives again, on top
// of its defaults: yaml.v3 allocates a block it finds under a pointer as
// the zero value, and an omitted key of a given block must take its
// default (max_deletes: 0 freezes deletes; 0 as a default would too).
// Problems were reported by the first decoding.
func (c *Config) decodeAccountBlocks(root *yaml.Node) {
	seq := mappingValue(root, "accounts")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return
	}
	for i, n := range seq.Content {
		if i >= len(c.Accounts) || n.Kind != yaml.MappingNode {
			continue
		}
		ac := &c.Accounts[i]
		if v := mappingValue(n, "liveperson"); v != nil && ac.LivePerson != nil {
			d := liveperson.Config{}.WithDefaults()
			_ = v.Decode(&d)
			d = d.WithDefaults()
			ac.LivePerson = &d
		}
		if v := mappingValue(n, "hr"); v != nil && ac.HR != nil {
			d := hrsource.Config{}.WithDefaults()
			_ = v.Decode(&d)
			d = d.WithDefaults()
			ac.HR = &d
		}
		if v := mappingValue(n, "skills"); v != nil && ac.Skills != nil {
			d := sync.SkillsConfig{NameMaxLength: sync.DefaultNameMaxLength}
			_ = v.Decode(&d)
			ac.Skills = &d
		}
		if v := mappingValue(n, "assignments"); v != nil && ac.Assignments != nil {
			d := sync.DefaultAssignmentsConfig()
			_ = v.Decode(&d)
			d = d.WithDefaults()
			ac.Assignments = &d
		}
		if v := mappingValue(n, "sync"); v != nil && ac.Sync != nil {
			d := sync.DefaultSyncConfig()
			_ = v.Decode(&d)
			d = d.WithDefaults()
			ac.Sync = &d
		}
	}
}

// validateAccounts checks `accounts:` and `daemon:`, and the blocks of
// every account, each problem naming its key (accounts[1].name,
// accounts[0].liveperson.account_id). The top-level blocks are checked
// only when an account inherits them (or when there is no `accounts:`,
// by Validate itself).
func (c *Config) validateAccounts() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Daemon.Concurrency < 1 {
		add("daemon.concurrency", "%d: want at least 1 (the accounts one replica runs at once)", c.Daemon.Concurrency)
	}
	if len(c.Accounts) == 0 {
		return errs
	}
	inherits := map[string]bool{}
	names := map[string]int{}
	ids := map[string]int{}
	for i, ac := range c.Accounts {
		key := fmt.Sprintf("accounts[%d]", i)
		switch {
		case !accountName.MatchString(ac.Name):
			add(key+".name", "%q: want lower-case letters, digits and dashes, starting with a letter or digit, at most 32 (e.g. emea, brand-2)", ac.Name)
		default:
			if j, dup := names[ac.Name]; dup {
				add(key+".name", "%q is also the name of accounts[%d]: names must be unique", ac.Name, j)
			} else {
				names[ac.Name] = i
			}
		}
		if ac.Schedule != "" {
			if _, err := cronParser.Parse(ac.Schedule); err != nil {
				add(key+".schedule", "%q is not a cron spec (5 fields like \"0 * * * *\", or a descriptor like \"@every 1h\"): %v", ac.Schedule, err)
			}
		}
		if ac.LivePerson == nil {
			add(key+".liveperson", "required: each account names its LivePerson account (account_id) and its credentials (auth)")
		} else {
			errs = append(errs, prefixed(key, ac.LivePerson.Validate())...)
			if id := ac.LivePerson.AccountID; id != "" {
				if j, dup := ids[id]; dup {
					add(key+".liveperson.account_id", "%s is also the account id of accounts[%d]: two entries would share one account's state", id, j)
				} else {
					ids[id] = i
				}
			}
		}
		if ac.HR == nil {
			inherits["hr"] = true
		} else {
			errs = append(errs, prefixed(key, ac.HR.Validate())...)
			errs = append(errs, prefixed(key, validateHRFile(*ac.HR))...)
		}
	}
	// The top-level blocks matter as far as they are inherited; the
	// liveperson block never is.
	if inherits["hr"] {
		errs = append(errs, c.HR.Validate()...)
		errs = append(errs, validateHRFile(c.HR)...)
	}
	// The engine's sections as each account's engine sees them: a
	// problem of a block the account gives names the account's key, one
	// of an inherited block the top-level key (once).
	seen := map[string]bool{}
	for i, a := range c.AccountList() {
		ac := c.Accounts[i]
		for _, err := range validateEngine(c.engineFor(a)) {
			msg := err.Error()
			section := msg[:strings.IndexAny(msg+".", ".[:")]
			if section == "skills" && ac.Skills != nil || section == "sync" && ac.Sync != nil || section == "assignments" && ac.Assignments != nil {
				msg = a.key + "." + msg
			}
			if !seen[msg] {
				seen[msg] = true
				errs = append(errs, errors.New(msg))
			}
		}
		errs = append(errs, a.matchFieldErrors()...)
	}
	return errs
}

// matchFieldErrors reports an assignments match whose HR field is not
// mapped.
func (a *Account) matchFieldErrors() []error {
	if !a.Assignments.Enabled {
		return nil
	}
	prefix := ""
	if a.key != "" {
		prefix = a.key + "."
	}
	switch {
	case a.Assignments.Match == "email" && a.HR.Fields.Email == "":
		return []error{fmt.Errorf("%shr.fields.email: required when assignments.match is email: name the column holding the e-mail address", prefix)}
	case a.Assignments.Match == "login_name" && a.HR.Fields.LoginName == "":
		return []error{fmt.Errorf("%shr.fields.login_name: required when assignments.match is login_name: name the column holding the LivePerson login name", prefix)}
	}
	return nil
}

// prefixed puts key in front of each error's key path.
func prefixed(key string, errs []error) []error {
	out := make([]error, len(errs))
	for i, err := range errs {
		out[i] = errors.New(key + "." + err.Error())
	}
	return out
}

// accountsLive reports whether the configuration has `accounts:`.
func (c *Config) accountsLive() bool { return len(c.Accounts) > 0 }

// accountByName finds an account's effective configuration.
func (c *Config) accountByName(name string) (Account, bool) {
	all := c.AccountList()
	i := slices.IndexFunc(all, func(a Account) bool { return a.Name == name })
	if i < 0 {
		return Account{}, false
	}
	return all[i], true
}
