package lpsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/skillsync/skillsync/liveperson"
)

// defaultSkillSelect is the Skills API's documented default for lists.
var defaultSkillSelect = selector{"id", "deleted", "name"}

// skillDefaults are the appendix's documented defaults, applied on create
// when the field is absent: those of the table of skill fields, and of
// fields skillsync does not type.
var skillDefaults = func() map[string]any {
	m := map[string]any{"fallbackWhenAllAgentsAreAway": true}
	for _, f := range liveperson.SkillFields() {
		if f.Default == nil {
			continue
		}
		v := f.Default
		if n, ok := v.(int); ok { // as decodeJSON reads numbers
			v = json.Number(strconv.Itoa(n))
		}
		m[f.Wire] = v
	}
	return m
}()

const dateLayout = "2006-01-02 15:04:05"

func (s *Sim) skillsCollection(w http.ResponseWriter, r *http.Request, method string) {
	switch method {
	case http.MethodGet:
		s.listSkills(w, r)
	case http.MethodPost:
		s.createSkills(w, r)
	case http.MethodPut:
		s.updateSkills(w, r, 0)
	case http.MethodDelete:
		s.deleteSkills(w, r, 0)
	default:
		writeError(w, http.StatusMethodNotAllowed, method+" is not supported on skills")
	}
}

func (s *Sim) skillsItem(w http.ResponseWriter, r *http.Request, method string) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "Data Not Found: skill "+r.PathValue("id"))
		return
	}
	switch method {
	case http.MethodGet:
		s.getSkill(w, r, id)
	case http.MethodPut:
		s.updateSkills(w, r, id)
	case http.MethodDelete:
		s.deleteSkills(w, r, id)
	default:
		writeError(w, http.StatusMethodNotAllowed, method+" is not supported on a skill")
	}
}

func (s *Sim) listSkills(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	includeDeleted := false
	if v := q.Get("include_deleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "include_deleted must be true or false")
			return
		}
		includeDeleted = b
	}
	sel := parseSelect(q.Get("select"), defaultSkillSelect)
	s.mu.Lock()
	view := s.viewLocked(lagOf(r.Context()))
	if s.notModified(w, r, view.rev) {
		s.mu.Unlock()
		return
	}
	rev := view.rev
	recs := make([]*record, 0, len(s.skillIDs))
	for _, id := range s.skillIDs {
		if rec := view.skill(s, id); rec != nil && (includeDeleted || !rec.deleted) {
			recs = append(recs, rec)
		}
	}
	s.mu.Unlock()
	writeList(w, http.StatusOK, rev, recs, sel, false)
}

// getSkill returns one skill with all fields (or select). A deleted skill is
// still returned, with deleted:true; it can no longer be updated or deleted.
func (s *Sim) getSkill(w http.ResponseWriter, r *http.Request, id int64) {
	sel := parseSelect(r.URL.Query().Get("select"), nil)
	s.mu.Lock()
	rec := s.skills[id]
	if rec == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, fmt.Sprintf("Data Not Found: skill %d", id))
		return
	}
	if s.notModified(w, r, s.revision) {
		s.mu.Unlock()
		return
	}
	rev := s.revision
	s.mu.Unlock()
	writeOne(w, http.StatusOK, rev, rec, sel, false)
}

// validateSkill checks the fields LivePerson documents as required or typed
// and that lpsim relies on. It returns the trimmed name.
func validateSkill(obj map[string]any) (string, string) {
	raw, ok := obj["name"]
	if !ok || raw == nil {
		return "", "name is required"
	}
	name, ok := raw.(string)
	if !ok {
		return "", "name must be a string"
	}
	if strings.TrimSpace(name) == "" {
		return "", "name must not be empty"
	}
	for _, f := range skillRefFields {
		v, ok := obj[f.Wire]
		if !ok || v == nil {
			continue
		}
		if f.Kind == liveperson.KindIDs {
			if _, ok := idList(v); !ok {
				return "", f.Wire + " must be null or a list of skill ids"
			}
		} else if _, ok := int64Of(v); !ok {
			return "", f.Wire + " must be a skill id"
		}
	}
	return name, ""
}

func idList(v any) ([]int64, bool) {
	if v == nil {
		return nil, true
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]int64, 0, len(arr))
	for _, x := range arr {
		id, ok := int64Of(x)
		if !ok {
			return nil, false
		}
		out = append(out, id)
	}
	return out, true
}

// createSkills is POST /skills: an array of new skills, all or nothing.
// Names must be unique case-insensitively among all skills, deleted ones
// included (undocumented: lpsim takes the strict reading of "unique").
// A duplicate or missing name is a 400 naming the item.
func (s *Sim) createSkills(w http.ResponseWriter, r *http.Request) {
	var items []any
	if err := readBody(r, &items); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON array of skills: "+err.Error())
		return
	}
	if len(items) == 0 {
		writeError(w, http.StatusBadRequest, "body must be a non-empty JSON array of skills")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.checkWriteRevision(w, r, http.MethodPost) {
		return
	}
	objs := make([]map[string]any, len(items))
	seen := map[string]int{}
	for i, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			writeItemError(w, http.StatusBadRequest, i, nil, "must be a JSON object")
			return
		}
		name, msg := validateSkill(obj)
		if msg != "" {
			writeItemError(w, http.StatusBadRequest, i, nil, msg)
			return
		}
		key := foldName(name)
		if other, ok := s.skillNames[key]; ok {
			writeItemError(w, http.StatusBadRequest, i, nil, fmt.Sprintf("name %q is already used by skill %d", name, other))
			return
		}
		if j, ok := seen[key]; ok {
			writeItemError(w, http.StatusBadRequest, i, nil, fmt.Sprintf("name %q is also used by item %d of this batch", name, j))
			return
		}
		seen[key] = i
		objs[i] = obj
	}
	now := s.now().UTC().Format(dateLayout)
	recs := make([]*record, len(objs))
	for i, obj := range objs {
		id := s.nextSkillID
		s.nextSkillID++
		for k, v := range skillDefaults {
			if _, ok := obj[k]; !ok {
				obj[k] = v
			}
		}
		obj["id"] = id
		obj["deleted"] = false
		obj["dateUpdated"] = now
		s.putSkill(id, obj)
		recs[i] = s.skills[id]
	}
	s.bumpRevisionLocked()
	noteWritten(r, recs)
	if len(recs) == 1 {
		w.Header().Set("Location", strings.TrimSuffix(r.URL.Path, "/")+"/"+strconv.FormatInt(recs[0].id, 10))
	}
	switch s.opts.CreateResponse {
	case CreateResponseEmpty:
		setRevision(w, s.revision)
		w.WriteHeader(http.StatusCreated)
	case CreateResponseNoIDs:
		noIDs := make([]*record, len(recs))
		for i, rec := range recs {
			obj := shallowCopy(rec.obj)
			delete(obj, "id")
			noIDs[i] = &record{id: rec.id, obj: obj, enc: mustMarshal(obj)}
		}
		writeList(w, http.StatusCreated, s.revision, noIDs, nil, false)
	default:
		writeList(w, http.StatusCreated, s.revision, recs, nil, false)
	}
}

// updateSkills is PUT /skills/{id} (pathID != 0, one object) and PUT /skills
// (an array of objects with ids), all or nothing. A PUT replaces the whole
// object: fields missing from the body are removed, except id and deleted,
// which are read-only. Undocumented by LivePerson (open question 8); lpsim
// takes the harsher reading so a client that PUTs partial objects fails here.
func (s *Sim) updateSkills(w http.ResponseWriter, r *http.Request, pathID int64) {
	objs, ok := readObjects(w, r, pathID, "skill")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.checkWriteRevision(w, r, http.MethodPut) {
		return
	}
	ids := make([]int64, len(objs))
	batch := map[int64]int{}
	for i, obj := range objs {
		id, msg := objectID(obj, pathID)
		if msg != "" {
			writeItemError(w, http.StatusBadRequest, i, nil, msg)
			return
		}
		if j, dup := batch[id]; dup {
			writeItemError(w, http.StatusBadRequest, i, &id, fmt.Sprintf("skill is also item %d of this batch", j))
			return
		}
		batch[id] = i
		ids[i] = id
		rec := s.skills[id]
		if rec == nil || rec.deleted {
			writeItemError(w, http.StatusNotFound, i, &id, "Data Not Found")
			return
		}
		if _, msg := validateSkill(obj); msg != "" {
			writeItemError(w, http.StatusBadRequest, i, &id, msg)
			return
		}
	}
	// Names must stay unique after the whole batch is applied, so a batch
	// may swap two names.
	seen := map[string]int{}
	for i, obj := range objs {
		name := obj["name"].(string)
		key := foldName(name)
		if j, ok := seen[key]; ok {
			writeItemError(w, http.StatusBadRequest, i, &ids[i], fmt.Sprintf("name %q is also used by item %d of this batch", name, j))
			return
		}
		seen[key] = i
		if other, ok := s.skillNames[key]; ok && other != ids[i] {
			if _, renamed := batch[other]; !renamed {
				writeItemError(w, http.StatusBadRequest, i, &ids[i], fmt.Sprintf("name %q is already used by skill %d", name, other))
				return
			}
		}
	}
	for _, id := range ids {
		if name, ok := s.skills[id].obj["name"].(string); ok && s.skillNames[foldName(name)] == id {
			delete(s.skillNames, foldName(name))
		}
	}
	now := s.now().UTC().Format(dateLayout)
	recs := make([]*record, len(objs))
	for i, obj := range objs {
		obj["id"] = ids[i]
		obj["deleted"] = false
		obj["dateUpdated"] = now
		s.putSkill(ids[i], obj)
		recs[i] = s.skills[ids[i]]
	}
	s.bumpRevisionLocked()
	noteWritten(r, recs)
	if pathID != 0 {
		writeOne(w, http.StatusOK, s.revision, recs[0], nil, false)
		return
	}
	writeList(w, http.StatusOK, s.revision, recs, nil, false)
}

// readObjects reads the body of a PUT: one object for /{id}, else an array.
func readObjects(w http.ResponseWriter, r *http.Request, pathID int64, kind string) ([]map[string]any, bool) {
	if pathID != 0 {
		var obj map[string]any
		if err := readBody(r, &obj); err != nil || obj == nil {
			writeError(w, http.StatusBadRequest, "body must be a JSON object (a full "+kind+")")
			return nil, false
		}
		return []map[string]any{obj}, true
	}
	var items []any
	if err := readBody(r, &items); err != nil || len(items) == 0 {
		writeError(w, http.StatusBadRequest, "body must be a non-empty JSON array of "+kind+"s with ids")
		return nil, false
	}
	objs := make([]map[string]any, len(items))
	for i, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			writeItemError(w, http.StatusBadRequest, i, nil, "must be a JSON object")
			return nil, false
		}
		objs[i] = obj
	}
	return objs, true
}

// objectID returns the id of a PUT item: the path id (a body id, if any,
// must agree) or the body's id.
func objectID(obj map[string]any, pathID int64) (int64, string) {
	raw, has := obj["id"]
	if pathID != 0 {
		if has {
			if id, ok := int64Of(raw); !ok || id != pathID {
				return 0, fmt.Sprintf("body id %v does not match the path id %d", raw, pathID)
			}
		}
		return pathID, ""
	}
	if !has {
		return 0, "id is required"
	}
	id, ok := int64Of(raw)
	if !ok {
		return 0, fmt.Sprintf("id %v is not a number", raw)
	}
	return id, ""
}

// dependency names what still holds a skill.
type dependency struct {
	Type  string `json:"type"` // "user" or "skill"
	ID    int64  `json:"id"`
	Field string `json:"field"` // skillIds, skillTransferList or fallbackSkill
}

type blockedSkill struct {
	SkillID int64        `json:"skillId"`
	HeldBy  []dependency `json:"heldBy"`
}

// skillDependenciesError is lpsim's refusal to delete a referenced skill.
// LivePerson documents neither the status nor the body; third-party tooling
// shows only "type":"skill-dependencies". lpsim answers 400 with that type
// and, as an aid, what holds each skill.
type skillDependenciesError struct {
	Time         int64          `json:"time"`
	Type         string         `json:"type"`
	Message      string         `json:"message"`
	Dependencies []blockedSkill `json:"dependencies"`
}

// deleteSkills is DELETE /skills/{id} (pathID != 0) and DELETE /skills with
// a body of id strings, as documented: ["1","2"]. Deletion is soft. A skill
// still referenced by a non-deleted user's skillIds, or by the
// skillTransferList or fallbackSkill of a non-deleted skill outside the
// batch, is not deleted and the whole request is refused.
func (s *Sim) deleteSkills(w http.ResponseWriter, r *http.Request, pathID int64) {
	var ids []int64
	if pathID != 0 {
		ids = []int64{pathID}
	} else {
		var items []any
		if err := readBody(r, &items); err != nil || len(items) == 0 {
			writeError(w, http.StatusBadRequest, `body must be a non-empty JSON array of skill id strings, e.g. ["1","2"]`)
			return
		}
		for i, it := range items {
			str, ok := it.(string)
			if !ok {
				writeItemError(w, http.StatusBadRequest, i, nil, fmt.Sprintf("skill ids must be strings, got %v", it))
				return
			}
			id, err := strconv.ParseInt(str, 10, 64)
			if err != nil {
				writeItemError(w, http.StatusBadRequest, i, nil, fmt.Sprintf("skill id %q is not a number", str))
				return
			}
			ids = append(ids, id)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.checkWriteRevision(w, r, http.MethodDelete) {
		return
	}
	batch := map[int64]bool{}
	for i, id := range ids {
		if batch[id] {
			writeItemError(w, http.StatusBadRequest, i, &id, "skill is listed twice")
			return
		}
		batch[id] = true
		if rec := s.skills[id]; rec == nil || rec.deleted {
			writeItemError(w, http.StatusNotFound, i, &id, "Data Not Found")
			return
		}
	}
	if blocked := s.dependencies(ids, batch); len(blocked) > 0 {
		var held []string
		for _, b := range blocked {
			held = append(held, strconv.FormatInt(b.SkillID, 10))
		}
		writeJSON(w, http.StatusBadRequest, skillDependenciesError{
			Time:         nowMillis(),
			Type:         "skill-dependencies",
			Message:      "skills still referenced cannot be deleted: " + strings.Join(held, ", "),
			Dependencies: blocked,
		})
		return
	}
	now := s.now().UTC().Format(dateLayout)
	recs := make([]*record, len(ids))
	for i, id := range ids {
		obj := shallowCopy(s.skills[id].obj)
		obj["deleted"] = true
		obj["dateUpdated"] = now
		s.putSkill(id, obj)
		recs[i] = s.skills[id]
	}
	s.bumpRevisionLocked()
	noteWritten(r, recs)
	if pathID != 0 {
		writeOne(w, http.StatusOK, s.revision, recs[0], nil, false)
		return
	}
	writeList(w, http.StatusOK, s.revision, recs, nil, false)
}

// dependencies lists what holds each of ids. One pass over users and skills,
// so a batch costs O(users + skills), not O(batch × users). Callers hold s.mu.
func (s *Sim) dependencies(ids []int64, batch map[int64]bool) []blockedSkill {
	held := map[int64][]dependency{}
	for _, uid := range s.userIDs {
		u := s.users[uid]
		if u.deleted {
			continue
		}
		for _, r := range u.refs {
			for _, sid := range r.ids {
				if batch[sid] {
					held[sid] = append(held[sid], dependency{Type: "user", ID: uid, Field: r.field})
				}
			}
		}
	}
	for _, oid := range s.skillIDs {
		o := s.skills[oid]
		if o.deleted || batch[oid] {
			continue
		}
		for _, r := range o.refs {
			for _, sid := range r.ids {
				if batch[sid] {
					held[sid] = append(held[sid], dependency{Type: "skill", ID: oid, Field: r.field})
				}
			}
		}
	}
	var out []blockedSkill
	for _, id := range ids {
		if deps := held[id]; len(deps) > 0 {
			out = append(out, blockedSkill{SkillID: id, HeldBy: deps})
		}
	}
	return out
}
