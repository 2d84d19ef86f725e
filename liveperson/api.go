package liveperson

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Skills and Users API calls. Each write is exactly one HTTP request with
// the items given (chunking by BatchSize is the caller's job) and sends
// If-Match with the latest revision this client has seen.

func (c *Client) skillsQuery() url.Values { return url.Values{"v": {c.cfg.SkillsVersion}} }
func (c *Client) usersQuery() url.Values  { return url.Values{"v": {c.cfg.UsersVersion}} }

// ListSkills returns every skill with all fields (select=$all), deleted
// ones too when includeDeleted.
//
// It reads from accountConfigReadWrite, not ReadOnly: the engine writes
// right after this read, and the revision it returns feeds If-Match; a
// read replica that lags would hand out a stale revision (whether
// ReadOnly lags is undocumented).
func (c *Client) ListSkills(ctx context.Context, includeDeleted bool) ([]Skill, error) {
	q := c.skillsQuery()
	q.Set("select", "$all")
	if includeDeleted {
		q.Set("include_deleted", "true")
	}
	res, err := c.do(ctx, call{method: http.MethodGet, service: svcWrite, endpoint: "skills", path: "skills",
		query: q, conditional: true})
	if err != nil {
		return nil, fmt.Errorf("list skills: %w", err)
	}
	skills, err := decodeSkills(res.body, false)
	if err != nil {
		return nil, fmt.Errorf("list skills: decode response: %w", err)
	}
	c.storeList(res)
	return skills, nil
}

// GetSkill returns one skill with all fields, from accountConfigReadOnly.
// A missing skill is an error matching ErrNotFound.
func (c *Client) GetSkill(ctx context.Context, id int64) (Skill, error) {
	res, err := c.do(ctx, call{method: http.MethodGet, service: svcRead, endpoint: "skills/{id}",
		path: "skills/" + strconv.FormatInt(id, 10), query: c.skillsQuery()})
	if err != nil {
		return Skill{}, fmt.Errorf("get skill %d: %w", id, err)
	}
	return decodeOne(res.body, decodeSkills, fmt.Sprintf("get skill %d", id))
}

// CreateSkills creates the skills in one POST and returns them as created,
// with their ids. The skills must not have ids.
//
// If the response is lost, the error matches ErrOutcomeUnknown: the skills
// may exist; re-read and match by name before creating again.
func (c *Client) CreateSkills(ctx context.Context, skills []Skill) ([]Skill, error) {
	if len(skills) == 0 {
		return nil, nil
	}
	for i := range skills {
		if skills[i].ID != 0 {
			return nil, fmt.Errorf("create skills: item %d (%q) already has id %d", i, skills[i].Name, skills[i].ID)
		}
	}
	// If-Match is sent when a revision is known, so a create based on a
	// stale read is refused like any other write; LivePerson documents no
	// extra header for create, and none is required.
	res, err := c.do(ctx, call{method: http.MethodPost, service: svcWrite, endpoint: "skills", path: "skills",
		query: c.skillsQuery(), body: encodeSkills(skills), ifMatch: c.Revision() != ""})
	if err != nil {
		return nil, fmt.Errorf("create %d skills: %w", len(skills), err)
	}
	created, derr := decodeSkills(res.body, true)
	if derr == nil && len(created) == len(skills) && allHaveIDs(created) {
		return created, nil
	}
	// The response body of a batch create is undocumented. Without ids in
	// it, find the new skills by name (names are unique).
	all, err := c.ListSkills(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("create %d skills: created, but reading their ids failed: %w", len(skills), err)
	}
	byName := make(map[string]Skill, len(all))
	for _, sk := range all {
		byName[strings.ToLower(strings.TrimSpace(sk.Name))] = sk
	}
	out := make([]Skill, 0, len(skills))
	for _, sk := range skills {
		got, ok := byName[strings.ToLower(strings.TrimSpace(sk.Name))]
		if !ok {
			return nil, fmt.Errorf("create %d skills: created, but %q is not in the skill list", len(skills), sk.Name)
		}
		out = append(out, got)
	}
	return out, nil
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
// and edited) in one PUT, and returns them as LivePerson answered, or as
// sent when the answer holds no skills. A stale revision is an error
// matching ErrConflict.
func (c *Client) UpdateSkills(ctx context.Context, skills []Skill) ([]Skill, error) {
	if len(skills) == 0 {
		return nil, nil
	}
	for i := range skills {
		if skills[i].ID == 0 {
			return nil, fmt.Errorf("update skills: item %d (%q) has no id", i, skills[i].Name)
		}
	}
	if err := c.ensureRevision(ctx); err != nil {
		return nil, fmt.Errorf("update %d skills: %w", len(skills), err)
	}
	res, err := c.do(ctx, call{method: http.MethodPut, service: svcWrite, endpoint: "skills", path: "skills",
		query: c.skillsQuery(), body: encodeSkills(skills), ifMatch: true})
	if err != nil {
		return nil, fmt.Errorf("update %d skills: %w", len(skills), err)
	}
	if updated, err := decodeSkills(res.body, true); err == nil && len(updated) == len(skills) && allHaveIDs(updated) {
		return updated, nil
	}
	return skills, nil
}

// DeleteSkills deletes the skills in one DELETE whose body lists the ids as
// strings, as LivePerson documents. A skill still referenced is refused
// with an error matching ErrSkillDependencies.
func (c *Client) DeleteSkills(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
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
	if err := c.ensureRevision(ctx); err != nil {
		return fmt.Errorf("delete %d skills: %w", len(ids), err)
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, service: svcWrite, endpoint: "skills", path: "skills",
		query: c.skillsQuery(), body: body, ifMatch: true})
	if err != nil {
		return fmt.Errorf("delete %d skills: %w", len(ids), err)
	}
	return nil
}

// ListUsers returns every user with all fields. Like ListSkills it reads
// from accountConfigReadWrite: the engine updates users by
// read-modify-write, and this read's revision feeds If-Match. The Users
// API returns all fields by default; select=$all says so explicitly, as
// for skills, so a changed default cannot silently narrow the objects
// that full-replacement PUTs send back.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	q := c.usersQuery()
	q.Set("select", "$all")
	res, err := c.do(ctx, call{method: http.MethodGet, service: svcWrite, endpoint: "users", path: "users",
		query: q, conditional: true})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users, err := decodeUsers(res.body, false)
	if err != nil {
		return nil, fmt.Errorf("list users: decode response: %w", err)
	}
	c.storeList(res)
	return users, nil
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

// UpdateUsers replaces the users in one PUT. Each is sent whole (Raw with
// the typed fields over it) with passwordSh null, since the Users API
// clears what a body leaves out and wants passwordSh null unless the
// password changes.
func (c *Client) UpdateUsers(ctx context.Context, users []User) error {
	if len(users) == 0 {
		return nil
	}
	for i := range users {
		if users[i].ID == 0 {
			return fmt.Errorf("update users: item %d (%q) has no id", i, users[i].LoginName)
		}
	}
	if err := c.ensureRevision(ctx); err != nil {
		return fmt.Errorf("update %d users: %w", len(users), err)
	}
	_, err := c.do(ctx, call{method: http.MethodPut, service: svcWrite, endpoint: "users", path: "users",
		query: c.usersQuery(), body: encodeUsers(users, true), ifMatch: true})
	if err != nil {
		return fmt.Errorf("update %d users: %w", len(users), err)
	}
	return nil
}

// ensureRevision reads the revision when none is known yet, so a write
// never goes out with If-Match -1 or *. The cheapest read is the skills
// list with its default fields; skills and users share the counter.
func (c *Client) ensureRevision(ctx context.Context) error {
	if c.Revision() != "" {
		return nil
	}
	_, err := c.do(ctx, call{method: http.MethodGet, service: svcWrite, endpoint: "skills", path: "skills",
		query: c.skillsQuery()})
	if err != nil {
		return fmt.Errorf("read revision: %w", err)
	}
	if c.Revision() == "" {
		return fmt.Errorf("read revision: LivePerson sent neither ac-revision nor ETag")
	}
	return nil
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
