package sync

import "unsafe"

// textArena copies strings into shared blocks: many short strings (the
// ids and match keys of 1,000,000 HR records) in a few allocations, and
// none of them keeps alive the larger string it was cut from (a record's
// line of the CSV file, with every other column). A block lives as long
// as one of its strings does.
type textArena struct{ block []byte }

// arenaBlock is the size of a textArena's blocks.
const arenaBlock = 64 << 10

// room returns n bytes of the arena, to be written once before any
// string is made of them.
func (a *textArena) room(n int) []byte {
	if n > cap(a.block)-len(a.block) {
		a.block = make([]byte, 0, max(n, arenaBlock))
	}
	start := len(a.block)
	a.block = a.block[:start+n]
	return a.block[start : start+n : start+n]
}

// str returns a copy of s in the arena.
func (a *textArena) str(s string) string {
	if s == "" {
		return ""
	}
	b := a.room(len(s))
	copy(b, s)
	return unsafe.String(&b[0], len(b))
}

// text returns bytes written into room(len(b)) as a string, without a
// copy: they must never be written again.
func text(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
