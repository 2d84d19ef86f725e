package lpsim

import (
	"fmt"
	"net/http"
	"strings"
)

func (s *Sim) usersCollection(w http.ResponseWriter, r *http.Request, method string) {
	switch method {
	case http.MethodGet:
		s.listUsers(w, r)
	case http.MethodPut:
		s.updateUsers(w, r, 0)
	default:
		// skillsync neither creates nor deletes users, so lpsim does not
		// implement those calls.
		writeError(w, http.StatusMethodNotAllowed, method+" is not supported on users by lpsim")
	}
}

func (s *Sim) usersItem(w http.ResponseWriter, r *http.Request, method string) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "Data Not Found: user "+r.PathValue("id"))
		return
	}
	switch method {
	case http.MethodGet:
		s.getUser(w, r, id)
	case http.MethodPut:
		s.updateUsers(w, r, id)
	default:
		writeError(w, http.StatusMethodNotAllowed, method+" is not supported on a user by lpsim")
	}
}

// listUsers returns every user with all fields by default (the Users API has
// no narrow default select), masked fields blanked.
func (s *Sim) listUsers(w http.ResponseWriter, r *http.Request) {
	sel := parseSelect(r.URL.Query().Get("select"), nil)
	s.mu.Lock()
	view := s.viewLocked(lagOf(r.Context()))
	if s.notModified(w, r, view.rev) {
		s.mu.Unlock()
		return
	}
	rev := view.rev
	recs := make([]*record, 0, len(s.userIDs))
	for _, id := range s.userIDs {
		if rec := view.user(s, id); rec != nil {
			recs = append(recs, rec)
		}
	}
	s.mu.Unlock()
	writeList(w, http.StatusOK, rev, recs, sel, true)
}

func (s *Sim) getUser(w http.ResponseWriter, r *http.Request, id int64) {
	sel := parseSelect(r.URL.Query().Get("select"), nil)
	s.mu.Lock()
	rec := s.users[id]
	if rec == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, fmt.Sprintf("Data Not Found: user %d", id))
		return
	}
	if s.notModified(w, r, s.revision) {
		s.mu.Unlock()
		return
	}
	rev := s.revision
	s.mu.Unlock()
	writeOne(w, http.StatusOK, rev, rec, sel, true)
}

// updateUsers is PUT /users/{id} and PUT /users, all or nothing. As
// LivePerson's "Considerations" say, a PUT replaces the user: fields missing
// from the body are cleared. Because GET blanks fullName and employeeId, a
// PUT of what was read stores them blank, the undocumented risk (open
// question 9) that lpsim models in its harsher form. passwordSh is accepted
// (null: unchanged) and never stored or returned.
func (s *Sim) updateUsers(w http.ResponseWriter, r *http.Request, pathID int64) {
	objs, ok := readObjects(w, r, pathID, "user")
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
	logins := map[string]int{}
	for i, obj := range objs {
		id, msg := objectID(obj, pathID)
		if msg != "" {
			writeItemError(w, http.StatusBadRequest, i, nil, msg)
			return
		}
		if j, dup := batch[id]; dup {
			writeItemError(w, http.StatusBadRequest, i, &id, fmt.Sprintf("user is also item %d of this batch", j))
			return
		}
		batch[id] = i
		ids[i] = id
		if s.users[id] == nil {
			writeItemError(w, http.StatusNotFound, i, &id, "Data Not Found")
			return
		}
		if msg := s.validateUser(obj); msg != "" {
			writeItemError(w, http.StatusBadRequest, i, &id, msg)
			return
		}
		login := strings.ToLower(obj["loginName"].(string))
		if j, ok := logins[login]; ok {
			writeItemError(w, http.StatusBadRequest, i, &id, fmt.Sprintf("loginName is also used by item %d of this batch", j))
			return
		}
		logins[login] = i
	}
	// loginName is unique in the account.
	for _, uid := range s.userIDs {
		if _, inBatch := batch[uid]; inBatch {
			continue
		}
		if name, ok := s.users[uid].obj["loginName"].(string); ok {
			if i, clash := logins[strings.ToLower(name)]; clash {
				writeItemError(w, http.StatusBadRequest, i, &ids[i], fmt.Sprintf("loginName %q is already used by user %d", name, uid))
				return
			}
		}
	}
	recs := make([]*record, len(objs))
	for i, obj := range objs {
		delete(obj, "passwordSh")
		obj["id"] = ids[i]
		if _, ok := obj["deleted"]; !ok {
			if d, ok := s.users[ids[i]].obj["deleted"]; ok {
				obj["deleted"] = d
			}
		}
		s.putUser(ids[i], obj)
		recs[i] = s.users[ids[i]]
	}
	s.bumpRevisionLocked()
	noteWritten(r, recs)
	if pathID != 0 {
		writeOne(w, http.StatusOK, s.revision, recs[0], nil, true)
		return
	}
	writeList(w, http.StatusOK, s.revision, recs, nil, true)
}

// validateUser checks the fields the Users appendix marks required, and
// that skillIds name existing, non-deleted skills. Callers hold s.mu.
func (s *Sim) validateUser(obj map[string]any) string {
	for _, f := range []string{"loginName", "email"} {
		v, ok := obj[f].(string)
		if !ok || strings.TrimSpace(v) == "" {
			return f + " is required"
		}
	}
	if _, ok := obj["profileIds"].([]any); !ok {
		return "profileIds is required (a list of profile ids)"
	}
	if v, ok := obj["passwordSh"]; ok && v != nil {
		if _, ok := v.(string); !ok {
			return "passwordSh must be null or a string"
		}
	}
	ids, ok := idList(obj["skillIds"])
	if !ok {
		return "skillIds must be a list of skill ids"
	}
	for _, id := range ids {
		if rec := s.skills[id]; rec == nil || rec.deleted {
			return fmt.Sprintf("skillIds: skill %d does not exist", id)
		}
	}
	return ""
}
