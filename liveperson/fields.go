package liveperson

import (
	"slices"
	"strconv"
)

// The table of skill fields.
//
// Every field of Skill is declared once, in skillFields: its configuration
// key (also its key in the written state and its name in a plan's diff),
// its wire name, its type, LivePerson's default on create, how it is
// decoded, encoded, compared and shown, and, for a field a configuration
// can set, how SkillSettings holds it. The codec, lpsim and the sync engine
// (settings checks and merging, the desired skill, drift, the diff, the
// written state) loop over this table; none of them names a field. Adding
// a field means a Skill field, a SkillSettings field when it is
// configurable, one entry here, and tests (fields_test.go fails while a
// field of Skill or SkillSettings has no entry).

// FieldKind is the type of a skill field's value.
type FieldKind uint8

// Kinds of skill fields.
const (
	KindID      FieldKind = iota + 1 // int64, the skill's own id
	KindString                       // string
	KindBool                         // bool
	KindInt                          // *int: nil when absent
	KindInt64                        // *int64: nil when absent
	KindOptBool                      // *bool: nil when absent
	KindIDs                          // []int64: nil (absent or null) differs from []
)

// SkillSettings carry the LivePerson skill fields a configuration sets
// (sync.Settings is this type). Nil means "not managed by skillsync": the
// field is left as LivePerson has it. Every field has an entry in the
// table of skill fields, whose Key is its YAML key.
type SkillSettings struct {
	MaxWaitTime              *int     `yaml:"max_wait_time"`
	SkillOrder               *int     `yaml:"skill_order"`
	CanTransfer              *bool    `yaml:"can_transfer"`
	TransferTo               []string `yaml:"transfer_to"` // skill names, resolved to ids at apply time
	WrapUpTime               *int     `yaml:"wrap_up_time"`
	SLADefaultResponseTime   *int     `yaml:"sla_default_response_time"`
	SLAUrgentResponseTime    *int     `yaml:"sla_urgent_response_time"`
	SLAFirstTimeResponseTime *int     `yaml:"sla_first_time_response_time"`
	LobIDs                   []int64  `yaml:"lob_ids"`
	WorkingHoursID           *int64   `yaml:"working_hours_id"`
}

// SkillField describes one field of a LivePerson skill. Use the entries of
// SkillFields; the zero value is not a field.
type SkillField struct {
	// Key is the field's configuration key (under settings), its key in
	// the written state and its name in a plan's diff.
	Key string
	// Wire is the field's JSON name in the Skills API.
	Wire string
	Kind FieldKind
	// Default is LivePerson's documented value when a create leaves the
	// field out (as a JSON value), or nil when none is documented.
	Default any
	// Setting marks a field a configuration sets (a SkillSettings field).
	Setting bool
	// SkillRefs marks a field whose values are ids of other skills
	// (LivePerson refuses to delete a skill they name). A setting that
	// refers to skills is configured by skill name (SettingNames).
	SkillRefs bool
	// NonNegative settings are refused below zero by the configuration
	// checks.
	NonNegative bool
	// RefLabel names a SkillRefs field in words ("transfer list"), for
	// messages about what refers to a skill.
	RefLabel string

	decode func(d *skillDecoder, sk *Skill, raw []byte) error
	// encode appends the field as `"wire":value`, or nothing when the
	// field is left out.
	encode func(b []byte, sk *Skill) []byte
	value  func(sk *Skill) any
	equal  func(a, b *Skill) bool
	ids    func(sk *Skill) *[]int64
	refs   func(sk *Skill) []int64

	isSet       func(s *SkillSettings) bool
	merge       func(dst, src *SkillSettings)
	sameSetting func(a, b *SkillSettings) bool
	apply       func(dst *Skill, s *SkillSettings)
	settingInt  func(s *SkillSettings) (int64, bool)
	names       func(s *SkillSettings) []string
}

// SkillFields returns the table of skill fields, in the order the codec
// writes them and a plan lists their changes. Callers must not modify it.
func SkillFields() []SkillField { return skillFields }

// SkillFieldByKey returns the field with the given Key.
func SkillFieldByKey(key string) (*SkillField, bool) {
	i, ok := skillFieldKeys[key]
	if !ok {
		return nil, false
	}
	return &skillFields[i], true
}

// Value returns the field of sk as a plan shows it and the written state
// stores it (as JSON): the string or number itself, ids sorted and
// deduplicated, nil when absent.
func (f *SkillField) Value(sk *Skill) any { return f.value(sk) }

// Equal reports whether a and b hold the same value of the field (id
// lists compare as sets, but nil differs from []).
func (f *SkillField) Equal(a, b *Skill) bool { return f.equal(a, b) }

// IDs returns the ids of a KindIDs field (nil for other kinds).
func (f *SkillField) IDs(sk *Skill) []int64 {
	if f.ids == nil {
		return nil
	}
	return *f.ids(sk)
}

// SetIDs sets a KindIDs field (for a SkillRefs setting, from the ids its
// configured names resolve to); it does nothing for other kinds.
func (f *SkillField) SetIDs(sk *Skill, ids []int64) {
	if f.ids != nil {
		*f.ids(sk) = ids
	}
}

// Refs returns the skill ids a SkillRefs field of sk names (nil for
// other fields).
func (f *SkillField) Refs(sk *Skill) []int64 {
	if f.refs == nil {
		return nil
	}
	return f.refs(sk)
}

// IsSet reports whether s manages the field (false for fields that are
// not settings).
func (f *SkillField) IsSet(s *SkillSettings) bool { return f.isSet != nil && f.isSet(s) }

// Merge overlays src's value of the field on dst when src sets it.
func (f *SkillField) Merge(dst, src *SkillSettings) {
	if f.merge != nil {
		f.merge(dst, src)
	}
}

// SameSetting reports whether a and b set the field alike.
func (f *SkillField) SameSetting(a, b *SkillSettings) bool {
	return f.sameSetting == nil || f.sameSetting(a, b)
}

// Apply sets the field of dst from s when s sets it (a copy: dst never
// shares memory with s). SkillRefs settings are named, not ids: the caller
// resolves SettingNames and uses SetIDs.
func (f *SkillField) Apply(dst *Skill, s *SkillSettings) {
	if f.apply != nil {
		f.apply(dst, s)
	}
}

// SettingInt returns an integer setting's value, if set.
func (f *SkillField) SettingInt(s *SkillSettings) (int64, bool) {
	if f.settingInt == nil {
		return 0, false
	}
	return f.settingInt(s)
}

// SettingNames returns the skill names a SkillRefs setting is configured
// with (nil when unset or not such a setting).
func (f *SkillField) SettingNames(s *SkillSettings) []string {
	if f.names == nil {
		return nil
	}
	return f.names(s)
}

var skillFields = []SkillField{
	{
		Key: "id", Wire: "id", Kind: KindID,
		decode: func(_ *skillDecoder, sk *Skill, raw []byte) (err error) { sk.ID, err = parseInt(raw); return },
		encode: func(b []byte, sk *Skill) []byte {
			if sk.ID == 0 { // a create
				return b
			}
			b = appendName(b, "id")
			return strconv.AppendInt(b, sk.ID, 10)
		},
		value: func(sk *Skill) any { return sk.ID },
		equal: func(a, b *Skill) bool { return a.ID == b.ID },
	},
	stringField("name", "name", func(sk *Skill) *string { return &sk.Name }),
	stringField("description", "description", func(sk *Skill) *string { return &sk.Description }),
	{
		Key: "deleted", Wire: "deleted", Kind: KindBool,
		decode: func(_ *skillDecoder, sk *Skill, raw []byte) (err error) {
			if isNull(raw) {
				sk.Deleted = false
				return nil
			}
			sk.Deleted, err = parseBool(raw)
			return err
		},
		// Read-only: written only for a skill that has an id (or is
		// deleted), i.e. an object read from LivePerson.
		encode: func(b []byte, sk *Skill) []byte {
			if sk.ID == 0 && !sk.Deleted {
				return b
			}
			b = appendName(b, "deleted")
			return strconv.AppendBool(b, sk.Deleted)
		},
		value: func(sk *Skill) any { return sk.Deleted },
		equal: func(a, b *Skill) bool { return a.Deleted == b.Deleted },
	},
	intSetting("max_wait_time", "maxWaitTime", 120, true,
		func(sk *Skill) **int { return &sk.MaxWaitTime }, func(s *SkillSettings) **int { return &s.MaxWaitTime }),
	intSetting("skill_order", "skillOrder", nil, false,
		func(sk *Skill) **int { return &sk.SkillOrder }, func(s *SkillSettings) **int { return &s.SkillOrder }),
	withDefault(optional("can_transfer", "canTransfer", KindOptBool, (*skillDecoder).optBool, strconv.AppendBool,
		func(sk *Skill) **bool { return &sk.CanTransfer }, func(s *SkillSettings) **bool { return &s.CanTransfer }), true),
	// A nil skillTransferList is written as null, which LivePerson reads
	// as "may transfer to any skill". It is configured by skill name.
	skillRefs(idList("transfer_to", "skillTransferList", true, func(sk *Skill) *[]int64 { return &sk.SkillTransferList }, nil),
		"transfer list", func(s *SkillSettings) *[]string { return &s.TransferTo }),
	intSetting("wrap_up_time", "wrapUpTime", nil, true,
		func(sk *Skill) **int { return &sk.WrapUpTime }, func(s *SkillSettings) **int { return &s.WrapUpTime }),
	intSetting("sla_default_response_time", "slaDefaultResponseTime", nil, true,
		func(sk *Skill) **int { return &sk.SLADefaultResponseTime }, func(s *SkillSettings) **int { return &s.SLADefaultResponseTime }),
	intSetting("sla_urgent_response_time", "slaUrgentResponseTime", nil, true,
		func(sk *Skill) **int { return &sk.SLAUrgentResponseTime }, func(s *SkillSettings) **int { return &s.SLAUrgentResponseTime }),
	intSetting("sla_first_time_response_time", "slaFirstTimeResponseTime", nil, true,
		func(sk *Skill) **int { return &sk.SLAFirstTimeResponseTime }, func(s *SkillSettings) **int { return &s.SLAFirstTimeResponseTime }),
	// A nil lobIds is left out.
	idList("lob_ids", "lobIds", false, func(sk *Skill) *[]int64 { return &sk.LobIDs }, func(s *SkillSettings) *[]int64 { return &s.LobIDs }),
	optional("working_hours_id", "workingHoursId", KindInt64, (*skillDecoder).optInt64, appendInt64,
		func(sk *Skill) **int64 { return &sk.WorkingHoursID }, func(s *SkillSettings) **int64 { return &s.WorkingHoursID }),
	skillRefs(optional("fallback_skill", "fallbackSkill", KindInt64, (*skillDecoder).optInt64, appendInt64,
		func(sk *Skill) **int64 { return &sk.FallbackSkill }, nil), "fallback skill", nil),
}

// skillFieldIndex and skillFieldKeys map wire names and keys to their
// index in skillFields.
var skillFieldIndex, skillFieldKeys = func() (map[string]int, map[string]int) {
	wire, keys := make(map[string]int, len(skillFields)), make(map[string]int, len(skillFields))
	for i, f := range skillFields {
		wire[f.Wire], keys[f.Key] = i, i
	}
	return wire, keys
}()

func isSkillField(k string) bool {
	_, ok := skillFieldIndex[k]
	return ok
}

// appendName appends `"key":`.
func appendName(b []byte, key string) []byte {
	b = appendString(b, key)
	return append(b, ':')
}

func appendInt64(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }
func appendInt(b []byte, v int) []byte     { return strconv.AppendInt(b, int64(v), 10) }

func stringField(key, wire string, sk func(*Skill) *string) SkillField {
	return SkillField{
		Key: key, Wire: wire, Kind: KindString,
		decode: func(_ *skillDecoder, s *Skill, raw []byte) (err error) { *sk(s), err = parseString(raw); return },
		encode: func(b []byte, s *Skill) []byte {
			b = appendName(b, wire)
			return appendString(b, *sk(s))
		},
		value: func(s *Skill) any { return *sk(s) },
		equal: func(a, b *Skill) bool { return *sk(a) == *sk(b) },
	}
}

// optional is a field held as a pointer, nil when absent (null, "" or
// missing) and then left out when written. set is its SkillSettings field,
// nil when it is not a setting.
func optional[T comparable](key, wire string, kind FieldKind, dec func(*skillDecoder, []byte) (*T, error), enc func([]byte, T) []byte,
	sk func(*Skill) **T, set func(*SkillSettings) **T) SkillField {
	f := SkillField{
		Key: key, Wire: wire, Kind: kind,
		decode: func(d *skillDecoder, s *Skill, raw []byte) (err error) { *sk(s), err = dec(d, raw); return },
		encode: func(b []byte, s *Skill) []byte {
			p := *sk(s)
			if p == nil {
				return b
			}
			b = appendName(b, wire)
			return enc(b, *p)
		},
		value: func(s *Skill) any {
			if p := *sk(s); p != nil {
				return *p
			}
			return nil
		},
		equal: func(a, b *Skill) bool { return eqPtr(*sk(a), *sk(b)) },
	}
	if set == nil {
		return f
	}
	f.Setting = true
	f.isSet = func(s *SkillSettings) bool { return *set(s) != nil }
	f.merge = func(dst, src *SkillSettings) {
		if p := *set(src); p != nil {
			*set(dst) = p
		}
	}
	f.sameSetting = func(a, b *SkillSettings) bool { return eqPtr(*set(a), *set(b)) }
	f.apply = func(dst *Skill, s *SkillSettings) {
		if p := *set(s); p != nil {
			v := *p
			*sk(dst) = &v
		}
	}
	return f
}

func intSetting(key, wire string, def any, nonNegative bool, sk func(*Skill) **int, set func(*SkillSettings) **int) SkillField {
	f := optional(key, wire, KindInt, (*skillDecoder).optInt, appendInt, sk, set)
	f.Default, f.NonNegative = def, nonNegative
	f.settingInt = func(s *SkillSettings) (int64, bool) {
		if p := *set(s); p != nil {
			return int64(*p), true
		}
		return 0, false
	}
	return f
}

func withDefault(f SkillField, def any) SkillField {
	f.Default = def
	return f
}

// idList is a list of ids. A nil list is written as null when nullable,
// else left out. Its value is sorted and deduplicated; two lists are equal
// when they hold the same ids, but nil differs from [].
func idList(key, wire string, nullable bool, sk func(*Skill) *[]int64, set func(*SkillSettings) *[]int64) SkillField {
	f := SkillField{
		Key: key, Wire: wire, Kind: KindIDs, ids: sk,
		decode: func(d *skillDecoder, s *Skill, raw []byte) (err error) { *sk(s), err = d.ids(raw); return },
		encode: func(b []byte, s *Skill) []byte {
			ids := *sk(s)
			if ids == nil && !nullable {
				return b
			}
			b = appendName(b, wire)
			return appendIDs(b, ids)
		},
		value: func(s *Skill) any {
			if ids := *sk(s); ids != nil {
				return SortedIDs(ids)
			}
			return nil
		},
		equal: func(a, b *Skill) bool { return SameIDs(*sk(a), *sk(b)) },
	}
	if set == nil {
		return f
	}
	f.Setting = true
	f.isSet = func(s *SkillSettings) bool { return *set(s) != nil }
	f.merge = func(dst, src *SkillSettings) {
		if v := *set(src); v != nil {
			*set(dst) = v
		}
	}
	f.sameSetting = func(a, b *SkillSettings) bool {
		x, y := *set(a), *set(b)
		return slices.Equal(x, y) && (x == nil) == (y == nil)
	}
	f.apply = func(dst *Skill, s *SkillSettings) {
		if v := *set(s); v != nil {
			*sk(dst) = SortedIDs(v)
		}
	}
	return f
}

// skillRefs marks f as naming other skills, called label in messages;
// names, when not nil, is the SkillSettings field that configures it by
// skill name.
func skillRefs(f SkillField, label string, names func(*SkillSettings) *[]string) SkillField {
	f.SkillRefs, f.RefLabel = true, label
	switch {
	case f.ids != nil:
		f.refs = func(s *Skill) []int64 { return *f.ids(s) }
	case f.Kind == KindInt64:
		value := f.value
		f.refs = func(s *Skill) []int64 {
			if id, ok := value(s).(int64); ok {
				return []int64{id}
			}
			return nil
		}
	default:
		panic("skill field " + f.Key + ": a reference to skills must be a list of ids or an id")
	}
	if names == nil {
		return f
	}
	f.Setting = true
	f.isSet = func(s *SkillSettings) bool { return *names(s) != nil }
	f.merge = func(dst, src *SkillSettings) {
		if v := *names(src); v != nil {
			*names(dst) = v
		}
	}
	f.sameSetting = func(a, b *SkillSettings) bool {
		x, y := *names(a), *names(b)
		return slices.Equal(x, y) && (x == nil) == (y == nil)
	}
	f.names = func(s *SkillSettings) []string { return *names(s) }
	return f
}

func eqPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// SortedIDs returns a sorted copy of ids without duplicates; never nil.
func SortedIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	if out == nil {
		out = []int64{}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SameIDs reports whether a and b hold the same ids, in any order; nil
// differs from [].
func SameIDs(a, b []int64) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return slices.Equal(SortedIDs(a), SortedIDs(b))
}
