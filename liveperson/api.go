package liveperson

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Skills and Users API calls. Each write is exactly one HTTP request with
// the items given (chunking by BatchSize is the caller's job), sends the
// revision it is given as If-Match, and returns the revision the next
// write sends (see the package documentation).

func (c *Client) skillsQuery() url.Values { return url.Values{"v": {c.cfg.SkillsVersion}} }
func (c *Client) usersQuery() url.Values  { return url.Values{"v": {c.cfg.UsersVersion}} }

// ListSkills returns every skill with all fields (select=$all), deleted
// ones too when includeDeleted. It is ListSkillsAt without the revision.
func (c *Client) ListSkills(ctx context.Context, includeDeleted bool) ([]Skill, error) {
	skills, _, err := c.ListSkillsAt(ctx, includeDeleted)
	return skills, err
}

// ListSkillsAt returns every skill with all fields (select=$all), deleted
// ones too when includeDeleted, and the revision the list was read at (""
// if LivePerson sent none). Writes that send this revision must take
// their bodies from this read, or from one at the same revision.
//
// It reads from accountConfigReadWrite, not ReadOnly: the engine writes
// right after this read, and the revision it returns feeds If-Match; a
// read replica that lags would hand out a stale revision (whether
// ReadOnly lags is undocumented).
func (c *Client) ListSkillsAt(ctx context.Context, includeDeleted bool) ([]Skill, string, error) {
	q := c.skillsQuery()
	q.Set("select", "$all")
	if includeDeleted {
		q.Set("include_deleted", "true")
	}
	res, err := c.do(ctx, call{method: http.MethodGet, service: svcWrite, endpoint: "skills", path: "skills",
		query: q, conditional: true})
	if err != nil {
		return nil, "", fmt.Errorf("list skills: %w", err)
	}
	skills, err := decodeSkills(res.body, false)
	if err != nil {
		return nil, "", fmt.Errorf("list skills: decode response: %w", err)
	}
	c.storeList(res)
	return skills, res.revision, nil
}

// GetSkill returns one skill with all fields. A missing skill is an error
// matching ErrNotFound. It reads from accountConfigReadWrite: its callers
// decide writes on its answer (a skill missing from the list is forgotten
// or created again only when this says 404; a DELETE answered 404 counts
// as done only when this says the skill is gone), and a read replica that
// lags would still show a skill just deleted, or not yet show one just
// created (liveperson-api.md §1: reads that feed writes go to ReadWrite).
// It returns no revision: one skill is not a read the caller's other write
// bodies come from.
func (c *Client) GetSkill(ctx context.Context, id int64) (Skill, error) {
	res, err := c.do(ctx, call{method: http.MethodGet, service: svcWrite, endpoint: "skills/{id}",
		path: "skills/" + strconv.FormatInt(id, 10), query: c.skillsQuery()})
	if err != nil {
		return Skill{}, fmt.Errorf("get skill %d: %w", id, err)
	}
	return decodeOne(res.body, decodeSkills, fmt.Sprintf("get skill %d", id))
}

// CreateSkills creates the skills in one POST, sending rev (the revision
// the caller read, "" for none) as If-Match, and returns them as created,
// with their ids, in the order given, and the revision the caller's next
// write sends. The skills must not have ids.
//
// Its results (see also the package documentation):
//   - the skills, the create's revision and nil: all created; the
//     revision moved past the create, which provably was the only change
//     since the caller's read;
//   - the skills, rev and an error matching ErrStateChanged (and
//     ErrOutcomeUnknown): all created, but the account may also have
//     changed otherwise; re-read and re-plan before updating or deleting
//     (a write sent at rev gets a conflict);
//   - nil, rev and an error matching ErrOutcomeUnknown: none, some or all
//     may exist (lost or 5xx answer, a refused batch of several items, or
//     a 2xx whose skills or ids the answer lacks, a body LivePerson does
//     not document for batches); re-read and match by name, never re-send
//     blindly (the sync engine's applier does);
//   - nil, rev and any other error: nothing was created.
func (c *Client) CreateSkills(ctx context.Context, rev string, skills []Skill) ([]Skill, string, error) {
	if len(skills) == 0 {
		return nil, rev, nil
	}
	for i := range skills {
		if skills[i].ID != 0 {
			return nil, rev, fmt.Errorf("create skills: item %d (%q) already has id %d", i, skills[i].Name, skills[i].ID)
		}
	}
	// If-Match is sent when a revision is known: LivePerson documents none
	// on create, and may ignore it, but a server that checks it refuses a
	// create based on a stale read. The answer's revision is taken only
	// if it provably follows (createFollows).
	res, err := c.do(ctx, call{method: http.MethodPost, service: svcWrite, endpoint: "skills", path: "skills",
		query: c.skillsQuery(), body: encodeSkills(skills), ifMatch: rev, items: len(skills)})
	if err != nil {
		return nil, rev, fmt.Errorf("create %d skills: %w", len(skills), err)
	}
	chained := rev != "" && createFollows(rev, res.revision)
	next := rev
	if chained {
		next = res.revision
	}
	created, derr := decodeSkills(res.body, true)
	if derr != nil || len(created) != len(skills) || !allHaveIDs(created) {
		return nil, next, fmt.Errorf("create %d skills: LivePerson answered HTTP %d without every skill's id: %w",
			len(skills), res.status, ErrOutcomeUnknown)
	}
	if rev != "" && !chained {
		return created, rev, &stateChangedError{msg: fmt.Sprintf(
			"create %d skills: created, but LivePerson answered revision %s to a create sent at revision %s, "+
				"so the account may also have changed otherwise: %s",
			len(skills), cmp.Or(res.revision, "(none)"), rev, ErrStateChanged)}
	}
	return created, next, nil
}

func allHaveIDs(skills []Skill) bool {
	for _, sk := range skills {
		if sk.ID == 0 {
			return false
		}
	}
	return true
}

// UpdateSkills replaces the skills (full objects, as read with select=$all
// and edited) in one PUT sent at revision rev, and returns them as
// LivePerson answered, or as sent when the answer holds no skills, and the
// revision the next write sends. A stale revision is an error matching
// ErrConflict.
func (c *Client) UpdateSkills(ctx context.Context, rev string, skills []Skill) ([]Skill, string, error) {
	if len(skills) == 0 {
		return nil, rev, nil
	}
	for i := range skills {
		if skills[i].ID == 0 {
			return nil, rev, fmt.Errorf("update skills: item %d (%q) has no id", i, skills[i].Name)
		}
	}
	sent, err := c.ensureRevision(ctx, rev)
	if err != nil {
		return nil, rev, fmt.Errorf("update %d skills: %w", len(skills), err)
	}
	res, err := c.do(ctx, call{method: http.MethodPut, service: svcWrite, endpoint: "skills", path: "skills",
		query: c.skillsQuery(), body: encodeSkills(skills), ifMatch: sent, items: len(skills)})
	if err != nil {
		return nil, rev, fmt.Errorf("update %d skills: %w", len(skills), err)
	}
	next := cmp.Or(res.revision, sent)
	if updated, err := decodeSkills(res.body, true); err == nil && len(updated) == len(skills) && allHaveIDs(updated) {
		return updated, next, nil
	}
	return skills, next, nil
}

// DeleteSkills deletes the skills in one DELETE sent at revision rev whose
// body lists the ids as strings, as LivePerson documents, and returns the
// revision the next write sends. A skill still referenced is refused with
// an error matching ErrSkillDependencies.
func (c *Client) DeleteSkills(ctx context.Context, rev string, ids []int64) (string, error) {
	if len(ids) == 0 {
		return rev, nil
	}
	body := make([]byte, 0, 16*len(ids))
	body = append(body, '[')
	for i, id := range ids {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, '"')
		body = strconv.AppendInt(body, id, 10)
		body = append(body, '"')
	}
	body = append(body, ']')
	sent, err := c.ensureRevision(ctx, rev)
	if err != nil {
		return rev, fmt.Errorf("delete %d skills: %w", len(ids), err)
	}
	res, err := c.do(ctx, call{method: http.MethodDelete, service: svcWrite, endpoint: "skills", path: "skills",
		query: c.skillsQuery(), body: body, ifMatch: sent, items: len(ids), dropBody: true})
	if err != nil {
		return rev, fmt.Errorf("delete %d skills: %w", len(ids), err)
	}
	return cmp.Or(res.revision, sent), nil
}

// ListUsers returns every user with all fields. It is ListUsersAt
// without the revision.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	users, _, err := c.ListUsersAt(ctx)
	return users, err
}

// ListUsersAt returns every user with all fields and the revision the list
// was read at ("" if LivePerson sent none), like ListSkillsAt. Skills and users share the account's revision
// counter, so a caller reading both can compare the two revisions: equal
// means both lists show the account at one moment.
//
// Like ListSkillsAt it reads from accountConfigReadWrite: the engine
// updates users by read-modify-write, and this read's revision feeds
// If-Match. The Users API returns all fields by default; select=$all says
// so explicitly, as for skills, so a changed default cannot silently
// narrow the objects that full-replacement PUTs send back.
func (c *Client) ListUsersAt(ctx context.Context) ([]User, string, error) {
	q := c.usersQuery()
	q.Set("select", "$all")
	res, err := c.do(ctx, call{method: http.MethodGet, service: svcWrite, endpoint: "users", path: "users",
		query: q, conditional: true, chunks: true})
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	users, err := decodeUserChunks(res.chunks)
	if err != nil {
		return nil, "", fmt.Errorf("list users: decode response: %w", err)
	}
	c.storeListShared(res)
	return users, res.revision, nil
}

// GetUser returns one user. It reads from accountConfigReadWrite, since a
// single-user read is the first half of a read-modify-write.
func (c *Client) GetUser(ctx context.Context, id int64) (User, error) {
	res, err := c.do(ctx, call{method: http.MethodGet, service: svcWrite, endpoint: "users/{id}",
		path: "users/" + strconv.FormatInt(id, 10), query: c.usersQuery()})
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return decodeOne(res.body, decodeUsers, fmt.Sprintf("get user %d", id))
}

// UpdateUsers replaces the users in one PUT sent at revision rev, and
// returns the revision the next write sends. Each user is sent whole (its
// object as read, with the fields set and the typed fields over it) with
// passwordSh null, since the Users API clears what a body leaves out and
// wants passwordSh null unless the password changes.
func (c *Client) UpdateUsers(ctx context.Context, rev string, users []User) (string, error) {
	if len(users) == 0 {
		return rev, nil
	}
	for i := range users {
		if users[i].ID == 0 {
			return rev, fmt.Errorf("update users: item %d (%q) has no id", i, users[i].LoginName)
		}
	}
	sent, err := c.ensureRevision(ctx, rev)
	if err != nil {
		return rev, fmt.Errorf("update %d users: %w", len(users), err)
	}
	res, err := c.do(ctx, call{method: http.MethodPut, service: svcWrite, endpoint: "users", path: "users",
		query: c.usersQuery(), body: encodeUsers(users, true), ifMatch: sent, items: len(users), dropBody: true})
	if err != nil {
		return rev, fmt.Errorf("update %d users: %w", len(users), err)
	}
	return cmp.Or(res.revision, sent), nil
}

// ensureRevision returns rev, or when the caller knows none reads the
// current one, so a write never goes out without If-Match (nor with -1 or
// *). The cheapest read is the skills list with its default fields;
// skills and users share the counter.
func (c *Client) ensureRevision(ctx context.Context, rev string) (string, error) {
	if rev != "" {
		return rev, nil
	}
	res, err := c.do(ctx, call{method: http.MethodGet, service: svcWrite, endpoint: "skills", path: "skills",
		query: c.skillsQuery()})
	if err != nil {
		return "", fmt.Errorf("read revision: %w", err)
	}
	if res.revision == "" {
		return "", fmt.Errorf("read revision: LivePerson sent neither ac-revision nor ETag")
	}
	return res.revision, nil
}

// decodeOne decodes a single-object response.
func decodeOne[T any](body []byte, decode func([]byte, bool) ([]T, error), what string) (T, error) {
	var zero T
	items, err := decode(body, true)
	if err != nil {
		return zero, fmt.Errorf("%s: decode response: %w", what, err)
	}
	if len(items) != 1 {
		return zero, fmt.Errorf("%s: expected one object, got %d", what, len(items))
	}
	return items[0], nil
}
