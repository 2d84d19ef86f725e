package liveperson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// JSON codecs for Skill and User.
//
// Decoding is tolerant where LivePerson's own examples are loose: ids and
// integers may be numbers or numeric strings, booleans true or "true", id
// lists numbers or strings. A value that fits none of these is an error
// naming the field, so bad data is never silently dropped.
//
// Encoding writes numbers as numbers, keeps null and [] apart for
// skillTransferList (null means "may transfer to any skill"), and writes
// every field kept in Extra (Skill) or Raw (User) back byte for byte.

// Field names the user codec shares with skills (the skill codec reads
// its names from the table of skill fields, fields.go).
const (
	fID      = "id"
	fDeleted = "deleted"
)

// User field names.
const (
	fLoginName  = "loginName"
	fEmail      = "email"
	fSkillIDs   = "skillIds"
	fPasswordSh = "passwordSh"
)

// skillDecoder decodes many skills from one buffer, sharing key strings.
type skillDecoder struct {
	// copyRaw copies Extra values out of the input; without it they alias
	// the input, which is safe only when the decoder owns the buffer.
	copyRaw bool
	// extraHint sizes each Extra map from the previous object's count.
	extraHint int
	keys      keyCache
	// ints, int64s and bools are slabs the optional fields point into: one
	// allocation per few hundred values instead of one per value.
	ints   []int
	int64s []int64
	bools  []bool
}

func newSkillDecoder(copyRaw bool) *skillDecoder {
	return &skillDecoder{copyRaw: copyRaw}
}

// ids reads an id list into the int64 slab. The slice's capacity is capped
// so a caller appending to it cannot overwrite a neighbour's ids.
func (d *skillDecoder) ids(raw []byte) ([]int64, error) {
	if isNull(raw) {
		return nil, nil
	}
	if len(d.int64s)+len(raw)/2+1 > cap(d.int64s) {
		d.int64s = make([]int64, 0, max(256, len(raw)/2+1))
	}
	start := len(d.int64s)
	s := scanner{data: raw}
	err := s.array(func(elem []byte) error {
		n, err := parseInt(elem)
		if err != nil {
			return err
		}
		d.int64s = append(d.int64s, n)
		return nil
	})
	if err != nil {
		d.int64s = d.int64s[:start]
		return nil, errors.New("not a list of ids")
	}
	return d.int64s[start:len(d.int64s):len(d.int64s)], nil
}

func (d *skillDecoder) newInt(v int) *int {
	if len(d.ints) == cap(d.ints) {
		d.ints = make([]int, 0, 512)
	}
	d.ints = append(d.ints, v)
	return &d.ints[len(d.ints)-1]
}

func (d *skillDecoder) newInt64(v int64) *int64 {
	if len(d.int64s) == cap(d.int64s) {
		d.int64s = make([]int64, 0, 256)
	}
	d.int64s = append(d.int64s, v)
	return &d.int64s[len(d.int64s)-1]
}

func (d *skillDecoder) newBool(v bool) *bool {
	if len(d.bools) == cap(d.bools) {
		d.bools = make([]bool, 0, 256)
	}
	d.bools = append(d.bools, v)
	return &d.bools[len(d.bools)-1]
}

func (d *skillDecoder) skill(s *scanner, sk *Skill) error {
	*sk = Skill{}
	var extra map[string]json.RawMessage
	d.keys.reset()
	err := s.object(func(rawKey []byte, plain bool, val []byte) error {
		key, field, err := d.keys.keyIndex(rawKey, plain, skillFieldIndex)
		if err != nil {
			return err
		}
		if field >= 0 {
			if err := skillFields[field].decode(d, sk, val); err != nil {
				return fmt.Errorf("skill field %q: %w", key, err)
			}
			return nil
		}
		if extra == nil {
			extra = make(map[string]json.RawMessage, max(d.extraHint, 4))
		}
		if d.copyRaw {
			val = bytes.Clone(val)
		}
		extra[key] = json.RawMessage(val)
		return nil
	})
	if err != nil {
		return err
	}
	d.extraHint = len(extra)
	sk.Extra = extra
	return nil
}

// optInt reads an optional integer: null and "" are absent.
func (d *skillDecoder) optInt(raw []byte) (*int, error) {
	if isNull(raw) || string(raw) == `""` {
		return nil, nil
	}
	n, err := parseInt(raw)
	if err != nil {
		return nil, err
	}
	if int64(int(n)) != n {
		return nil, errNotNumber
	}
	return d.newInt(int(n)), nil
}

func (d *skillDecoder) optInt64(raw []byte) (*int64, error) {
	if isNull(raw) || string(raw) == `""` {
		return nil, nil
	}
	n, err := parseInt(raw)
	if err != nil {
		return nil, err
	}
	return d.newInt64(n), nil
}

func (d *skillDecoder) optBool(raw []byte) (*bool, error) {
	if isNull(raw) || string(raw) == `""` {
		return nil, nil
	}
	b, err := parseBool(raw)
	if err != nil {
		return nil, err
	}
	return d.newBool(b), nil
}

// UnmarshalJSON decodes a skill tolerantly; fields skillsync does not type
// are kept in Extra.
func (sk *Skill) UnmarshalJSON(data []byte) error {
	s := scanner{data: data}
	d := newSkillDecoder(true)
	if err := d.skill(&s, sk); err != nil {
		return err
	}
	return s.end()
}

// MarshalJSON encodes the skill with its Extra fields unchanged.
func (sk Skill) MarshalJSON() ([]byte, error) {
	return appendSkill(make([]byte, 0, 256), &sk), nil
}

// appendSkill writes the skill's fields in the order of the table of skill
// fields, each as its entry says (fields.go), then Extra.
func appendSkill(b []byte, sk *Skill) []byte {
	first := true
	b = append(b, '{')
	for i := range skillFields {
		n := len(b)
		if !first {
			b = append(b, ',')
		}
		m := len(b)
		if b = skillFields[i].encode(b, sk); len(b) == m {
			b = b[:n] // left out
			continue
		}
		first = false
	}
	b = appendRawFields(b, sk.Extra, isSkillField, nil, &first)
	return append(b, '}')
}

// appendRawFields writes the raw fields in key order (so output is
// deterministic), skipping keys for which skip is true and writing
// override(key) instead of the raw value when it returns non-nil. A raw
// value that is not valid JSON (set by hand) is written as null rather
// than corrupting the whole body.
func appendRawFields(b []byte, raw map[string]json.RawMessage, skip func(string) bool, override func(b []byte, key string) ([]byte, bool), first *bool) []byte {
	return appendFields(b, raw, nil, skip, override, first)
}

// appendFields is appendRawFields over the keys of raw plus extra, keys
// absent from raw (written by override, else as null): the same output as
// adding them to raw, without copying raw.
func appendFields(b []byte, raw map[string]json.RawMessage, extra []string, skip func(string) bool, override func(b []byte, key string) ([]byte, bool), first *bool) []byte {
	if len(raw)+len(extra) == 0 {
		return b
	}
	var buf [64]string // a user's or skill's keys, without an allocation
	keys := buf[:0]
	for k := range raw {
		if skip == nil || !skip(k) {
			keys = append(keys, k)
		}
	}
	for _, k := range extra {
		if skip == nil || !skip(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendKey(b, k, first)
		if override != nil {
			var done bool
			if b, done = override(b, k); done {
				continue
			}
		}
		v := raw[k]
		if !validValue(v) {
			b = append(b, "null"...)
			continue
		}
		b = append(b, v...)
	}
	return b
}

// validValue says whether v is one JSON value (surrounding space allowed),
// as json.Valid does, deciding the common scalars itself: a string
// without escapes, a plain integer, true, false, null.
func validValue(v []byte) bool {
	switch {
	case len(v) == 0:
		return false
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		plain := true
		for _, c := range v[1 : len(v)-1] {
			if c < 0x20 || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain {
			return true
		}
	case v[0] >= '1' && v[0] <= '9':
		digits := true
		for _, c := range v[1:] {
			if c < '0' || c > '9' {
				digits = false
				break
			}
		}
		if digits {
			return true
		}
	}
	switch string(v) {
	case "true", "false", "null", "0":
		return true
	}
	return len(bytes.TrimSpace(v)) > 0 && json.Valid(v)
}

// decodeSkills decodes a list response. The returned skills' Extra values
// alias data unless copyRaw is set.
func decodeSkills(data []byte, copyRaw bool) ([]Skill, error) {
	s := scanner{data: data}
	switch s.peek() {
	case 'n':
		if err := s.literal("null"); err != nil {
			return nil, err
		}
		return nil, s.end()
	case '{':
		// A single object where a list was expected (e.g. a create of one
		// skill): accept it as a list of one.
		d := newSkillDecoder(copyRaw)
		var sk Skill
		if err := d.skill(&s, &sk); err != nil {
			return nil, err
		}
		return []Skill{sk}, s.end()
	}
	d := newSkillDecoder(copyRaw)
	out := []Skill{}
	err := s.arrayAt(func() error {
		start := s.pos
		out = append(out, Skill{})
		if err := d.skill(&s, &out[len(out)-1]); err != nil {
			return fmt.Errorf("skill %d: %w", len(out)-1, err)
		}
		if len(out) == 1 {
			// Size the list from the first skill's length rather than
			// growing it by doubling through thousands of skills.
			out = slices.Grow(out, listRoom(len(data), s.pos-start, minSkillEstimate))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, s.end()
}

// minSkillEstimate is the least length a skills list is sized for per
// skill (listRoom): a skill as LivePerson returns it carries its
// settings (~300 bytes and more), and one small first skill (a bare id
// and name, 20 bytes) must not size a list of 10 MB for the million skills
// of 176 bytes each (the most, 1<<20: 185 MB) that skills that small
// would need.
const minSkillEstimate = 128

// listRoom is the room to make in a list decoded from total bytes whose
// first item took first bytes: the items of that length it holds, plus an
// eighth, counting no item shorter than least, and at most 1<<20.
func listRoom(total, first, least int) int {
	est := total / max(first, least)
	return min(est+est/8, 1<<20)
}

// encodeSkills writes a list of skills as a JSON array.
func encodeSkills(skills []Skill) []byte {
	b := make([]byte, 0, 256*len(skills)+2)
	b = append(b, '[')
	for i := range skills {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSkill(b, &skills[i])
	}
	return append(b, ']')
}

// Users.

// hotUserFields are the fields that skillsync reads of every user (whether
// it can hold skills, and the masked fields filled from HR): a decoded user
// keeps where they are in its object, so that Field finds them without a
// walk of the object.
var hotUserFields = [...]string{"userTypeId", "isApiUser", "profileIds", "isEnabled", "fullName", "employeeId"}

func hotIndex(key string) int {
	switch key {
	case "userTypeId":
		return 0
	case "isApiUser":
		return 1
	case "profileIds":
		return 2
	case "isEnabled":
		return 3
	case "fullName":
		return 4
	case "employeeId":
		return 5
	}
	return -1
}

// Field returns the raw value of one field of the object (the caller's
// own copy), and whether the object has it.
func (u *User) Field(key string) (json.RawMessage, bool) {
	v, ok := u.field(key)
	if u.Raw == nil {
		// A decoded user aliases the response, which the client's
		// conditional-GET cache keeps: the caller gets a copy.
		v = bytes.Clone(v)
	}
	return v, ok
}

func (u *User) field(key string) (json.RawMessage, bool) {
	if u.Raw != nil || u.obj == nil {
		v, ok := u.Raw[key]
		return v, ok
	}
	if i := hotIndex(key); i >= 0 {
		return u.hot[i], u.hot[i] != nil
	}
	var found json.RawMessage
	u.eachField(nil, func(k string, v []byte) {
		if k == key {
			found = v // the last of duplicate keys, as a map keeps it
		}
	})
	return found, found != nil
}

// Fields returns every field of the object by JSON name: Raw when set,
// else a new map of the object as read, whose values are the caller's own
// copies. The caller must not modify Raw through it.
func (u *User) Fields() map[string]json.RawMessage {
	if u.Raw != nil || u.obj == nil {
		return u.Raw
	}
	m := make(map[string]json.RawMessage, 32)
	u.eachField(nil, func(k string, v []byte) { m[k] = v })
	for i, v := range u.hot { // as read, or as set
		if v != nil {
			m[hotUserFields[i]] = v
		}
	}
	for k, v := range m {
		m[k] = bytes.Clone(v)
	}
	return m
}

// SetField sets one field of the object. On a decoded user, one of the
// fields skillsync reads is set beside the object as read; any other
// moves the fields to a new Raw first. Either way the object as read is
// left as it was (a copy of the User can be changed without changing the
// original). A Raw set by hand is changed in place.
func (u *User) SetField(key string, v json.RawMessage) {
	if u.Raw == nil && u.obj != nil && v != nil {
		if i := hotIndex(key); i >= 0 {
			u.hot[i] = v
			return
		}
	}
	if u.Raw == nil {
		u.Raw = u.Fields()
		if u.Raw == nil {
			u.Raw = map[string]json.RawMessage{}
		}
		u.obj, u.hot = nil, [len(hotUserFields)]json.RawMessage{}
	}
	u.Raw[key] = v
}

// eachField walks the object as read (valid JSON: it was decoded from
// it); kc, when not nil, reuses the key strings of the previous object.
func (u *User) eachField(kc *keyCache, fn func(key string, val []byte)) {
	if kc == nil {
		kc = &keyCache{}
	}
	kc.reset()
	s := scanner{data: u.obj}
	_ = s.object(func(rawKey []byte, plain bool, val []byte) error {
		k, err := kc.key(rawKey, plain)
		if err == nil {
			fn(k, val)
		}
		return nil
	})
}

type userDecoder struct {
	keys keyCache
}

// user decodes one object at s into u, which aliases s.data.
func (d *userDecoder) user(s *scanner, u *User) error {
	*u = User{}
	s.peek()
	start := s.pos
	d.keys.reset()
	err := s.object(func(rawKey []byte, plain bool, val []byte) error {
		key, err := d.keys.key(rawKey, plain)
		if err != nil {
			return err
		}
		switch key {
		case fID:
			u.ID, err = parseInt(val)
		case fLoginName:
			u.LoginName, err = parseString(val)
		case fEmail:
			u.Email, err = parseString(val)
		case fSkillIDs:
			u.SkillIDs, err = parseIDs(val)
		case fDeleted:
			if !isNull(val) {
				u.Deleted, err = parseBool(val)
			}
		default:
			if i := hotIndex(key); i >= 0 {
				u.hot[i] = json.RawMessage(val)
			}
		}
		if err != nil {
			return fmt.Errorf("user field %q: %w", key, err)
		}
		return nil
	})
	if err == nil {
		u.obj = s.data[start:s.pos:s.pos]
	}
	return err
}

// UnmarshalJSON decodes a user tolerantly and keeps the whole object.
func (u *User) UnmarshalJSON(data []byte) error {
	s := scanner{data: bytes.Clone(data)}
	var d userDecoder
	if err := d.user(&s, u); err != nil {
		return err
	}
	return s.end()
}

// MarshalJSON encodes the user as read with the typed fields laid over
// it, so a full-replacement PUT sends every untouched field back as it
// was. SkillIDs is always written: nil as null, empty as [].
func (u User) MarshalJSON() ([]byte, error) {
	return appendUser(make([]byte, 0, 512), &u, false), nil
}

// rawField is one field of an object as read.
type rawField struct {
	key string
	val []byte
	// valid marks a value known to be one JSON value: a value of the
	// object as read, which was validated when it was decoded.
	valid bool
}

// userEncoder writes users, reusing from one user to the next the key
// strings and the order of the keys: the users of one list nearly always
// have the same keys in the same order, so the order sorted for the first
// serves the others, and the fields of a batch of 50 are sorted once.
type userEncoder struct {
	keys keyCache
	// prev is the keys of the last user written, in its order, and order
	// their indexes sorted by key (stably: of duplicate keys in an object,
	// the last is written).
	prev  []string
	order []int
}

// sorted returns the indexes of fields in key order.
func (e *userEncoder) sorted(fields []rawField) []int {
	same := len(fields) == len(e.prev)
	for i := 0; same && i < len(fields); i++ {
		same = fields[i].key == e.prev[i]
	}
	if same {
		return e.order
	}
	if cap(e.prev) < len(fields) {
		e.prev, e.order = make([]string, 0, max(len(fields), 64)), make([]int, 0, max(len(fields), 64))
	}
	e.prev, e.order = e.prev[:0], e.order[:0]
	for i := range fields {
		e.prev = append(e.prev, fields[i].key)
		e.order = append(e.order, i)
	}
	slices.SortStableFunc(e.order, func(a, b int) int { return strings.Compare(fields[a].key, fields[b].key) })
	return e.order
}

// appendUser writes the user; nullPassword sets passwordSh to null, which
// the Users API asks for on every update that does not change the password.
func appendUser(b []byte, u *User, nullPassword bool) []byte {
	var e userEncoder
	return e.append(b, u, nullPassword)
}

// append is appendUser.
func (e *userEncoder) append(b []byte, u *User, nullPassword bool) []byte {
	// The user's fields: Raw, or the object as read.
	var fieldBuf [64]rawField // a user's fields, without an allocation
	fields := fieldBuf[:0]
	if u.Raw != nil || u.obj == nil {
		for k, v := range u.Raw {
			fields = append(fields, rawField{key: k, val: v})
		}
	} else {
		// Into fieldBuf by index, not by append in the closure, which would
		// move fieldBuf to the heap.
		n := 0
		var more []rawField // beyond 64 fields
		var seen [len(hotUserFields)]bool
		u.eachField(&e.keys, func(k string, v []byte) {
			f := rawField{key: k, val: v, valid: true}
			if i := hotIndex(k); i >= 0 {
				// As read, or as set (then checked when written).
				f.val, f.valid, seen[i] = u.hot[i], sameBytes(u.hot[i], v), true
			}
			if n < len(fieldBuf) {
				fieldBuf[n] = f
				n++
				return
			}
			more = append(more, f)
		})
		fields = append(fieldBuf[:n], more...)
		for i, v := range u.hot { // set, where the object had none
			if v != nil && !seen[i] {
				fields = append(fields, rawField{key: hotUserFields[i], val: v})
			}
		}
	}
	has := func(key string) bool {
		for i := range fields {
			if fields[i].key == key {
				return true
			}
		}
		return false
	}
	// The typed fields must appear even when the object lacks them (a
	// User built by hand): they are written as if it had them.
	var needBuf [6]string // no allocation per user
	need := append(needBuf[:0], fSkillIDs)
	if u.ID != 0 {
		need = append(need, fID)
	}
	if u.LoginName != "" {
		need = append(need, fLoginName)
	}
	if u.Email != "" {
		need = append(need, fEmail)
	}
	if u.Deleted {
		need = append(need, fDeleted)
	}
	if nullPassword {
		need = append(need, fPasswordSh)
	}
	for _, k := range need {
		if !has(k) {
			fields = append(fields, rawField{key: k})
		}
	}
	// Key order, so that output is deterministic; of duplicate keys in the
	// object the last is kept, as a map keeps it.
	order := e.sorted(fields)
	first := true
	b = append(b, '{')
	for j, i := range order {
		f := &fields[i]
		if j+1 < len(order) && fields[order[j+1]].key == f.key {
			continue
		}
		b = appendKey(b, f.key, &first)
		switch f.key {
		case fID:
			b = strconv.AppendInt(b, u.ID, 10)
			continue
		case fLoginName:
			b = appendString(b, u.LoginName)
			continue
		case fEmail:
			b = appendString(b, u.Email)
			continue
		case fSkillIDs:
			b = appendIDs(b, u.SkillIDs)
			continue
		case fDeleted:
			b = strconv.AppendBool(b, u.Deleted)
			continue
		case fPasswordSh:
			if nullPassword {
				b = append(b, "null"...)
				continue
			}
		}
		if !f.valid && !validValue(f.val) {
			b = append(b, "null"...)
			continue
		}
		b = append(b, f.val...)
	}
	return append(b, '}')
}

// sameBytes reports whether a and b are the same bytes in memory.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// decodeUsers decodes a users list response (or a single user object).
// The users alias data unless copyRaw is set.
func decodeUsers(data []byte, copyRaw bool) ([]User, error) {
	if copyRaw {
		data = bytes.Clone(data)
	}
	s := scanner{data: data}
	var d userDecoder
	switch s.peek() {
	case 'n':
		if err := s.literal("null"); err != nil {
			return nil, err
		}
		return nil, s.end()
	case '{':
		var u User
		if err := d.user(&s, &u); err != nil {
			return nil, err
		}
		return []User{u}, s.end()
	}
	out := []User{}
	err := s.arrayAt(func() error {
		start := s.pos
		out = append(out, User{})
		if err := d.user(&s, &out[len(out)-1]); err != nil {
			return fmt.Errorf("user %d: %w", len(out)-1, err)
		}
		if len(out) == 1 {
			// Size the list from the first user's length, as for skills:
			// doubling through 20,000 users of 256 bytes allocates and
			// copies twice the list.
			out = slices.Grow(out, listRoom(len(data), s.pos-start, minUserEstimate))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, s.end()
}

// minUserEstimate is the least length a users list is sized for per user
// (listRoom): a user read with all its fields is ~800 bytes, and one
// small first user (a bare test or service user) must not size the list
// of 20,000 full users behind it for 400,000 (112 MB of User where 7 MB
// do).
const minUserEstimate = 256

func encodeUsers(users []User, nullPassword bool) []byte {
	b := make([]byte, 0, 1024*len(users)+2) // a full user is ~800 bytes
	b = append(b, '[')
	var e userEncoder
	for i := range users {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.append(b, &users[i], nullPassword)
	}
	return append(b, ']')
}

// decodeUserChunks decodes a users list read in chunks (readChunks)
// without joining them: a user within one chunk aliases it, and only a
// user across two chunks is copied, where joining would copy the whole
// list (15 MB at 20,000 users) and hold it twice while it does. It
// accepts exactly what decodeUsers accepts and returns the same users:
// anything but a list of objects that decodes whole is decoded joined, by
// decodeUsers, whose error it returns.
func decodeUserChunks(chunks [][]byte) ([]User, error) {
	if len(chunks) == 1 {
		return decodeUsers(chunks[0], false)
	}
	if users, ok := decodeSplitUsers(chunks); ok {
		return users, nil
	}
	return decodeUsers(joinChunks(chunks), false)
}

// chunkPos is a position in a body held in chunks.
type chunkPos struct {
	chunks [][]byte
	ci, p  int // chunks[ci][p] is the next byte
}

// skipSpace moves past white space and returns the next byte (not
// consumed), false at the end.
func (r *chunkPos) skipSpace() (byte, bool) {
	for r.ci < len(r.chunks) {
		c := r.chunks[r.ci]
		for ; r.p < len(c); r.p++ {
			switch c[r.p] {
			case ' ', '\t', '\n', '\r':
			default:
				return c[r.p], true
			}
		}
		r.ci, r.p = r.ci+1, 0
	}
	return 0, false
}

// advance moves n bytes on.
func (r *chunkPos) advance(n int) {
	for n > 0 && r.ci < len(r.chunks) {
		step := min(n, len(r.chunks[r.ci])-r.p)
		r.p += step
		n -= step
		if r.p == len(r.chunks[r.ci]) {
			r.ci, r.p = r.ci+1, 0
		}
	}
}

// gather copies the rest of the current chunk and up to n bytes of the
// next ones; all says that it holds the rest of the body.
func (r *chunkPos) gather(n int) (b []byte, all bool) {
	b = append([]byte(nil), r.chunks[r.ci][r.p:]...)
	for i := r.ci + 1; i < len(r.chunks); i++ {
		c := r.chunks[i]
		if len(c) > n {
			return append(b, c[:n]...), false
		}
		b = append(b, c...)
		n -= len(c)
	}
	return b, true
}

// decodeSplitUsers decodes a list of user objects held in chunks; ok is
// false for anything else, or a list that does not decode.
func decodeSplitUsers(chunks [][]byte) ([]User, bool) {
	r := chunkPos{chunks: chunks}
	if c, ok := r.skipSpace(); !ok || c != '[' {
		return nil, false
	}
	r.advance(1)
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	var d userDecoder
	out := []User{}
	if c, ok := r.skipSpace(); ok && c == ']' {
		r.advance(1)
		_, more := r.skipSpace()
		return out, !more
	}
	for {
		if _, ok := r.skipSpace(); !ok {
			return nil, false
		}
		out = append(out, User{})
		u := &out[len(out)-1]
		// Inside the list, as decodeUsers reads it (depth counts).
		s := scanner{data: r.chunks[r.ci][r.p:], depth: 1}
		if err := d.user(&s, u); err == nil {
			r.advance(s.pos)
		} else {
			// Across chunks (or not a user): decoded from a copy of the
			// rest of this chunk and more of the next, up to the rest of
			// the body.
			for n := 4 << 10; ; n *= 2 {
				b, all := r.gather(n)
				s = scanner{data: b, depth: 1}
				if err := d.user(&s, u); err == nil {
					r.advance(s.pos)
					break
				}
				if all {
					return nil, false
				}
			}
		}
		if len(out) == 1 {
			// Sized from the first user's length, as decodeUsers does.
			out = slices.Grow(out, listRoom(total, s.pos, minUserEstimate))
		}
		c, ok := r.skipSpace()
		if !ok {
			return nil, false
		}
		r.advance(1)
		if c == ']' {
			break
		}
		if c != ',' {
			return nil, false
		}
	}
	_, more := r.skipSpace()
	return out, !more
}
