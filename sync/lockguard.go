package sync

import (
	"context"
	"errors"

	"github.com/skillsync/skillsync/liveperson"
)

// lockChecker confirms that the run still holds its lock (*store.RunLock,
// whose Check says store.ErrLockLost once the lock's session has ended:
// another replica may be running then, and the run writes nothing more).
type lockChecker interface {
	Check(ctx context.Context) error
}

// guardedSkills confirms the run lock before every write to LivePerson's
// skills; reads go through unchecked. The applier checks the lock itself
// before each batch, before journaling it; this is the backstop for
// every other write call (item-by-item retries, follow-ups). The call
// goes on under checked: the LivePerson client confirms the lock before
// each attempt it sends, the first and every retry, since a retry may
// leave minutes after the first (a Retry-After), when another replica may
// hold the lock.
type guardedSkills struct {
	SkillsAPI
	lock lockChecker
}

func (g guardedSkills) CreateSkills(ctx context.Context, rev string, skills []liveperson.Skill) ([]liveperson.Skill, string, error) {
	ctx = checked(ctx, g.lock)
	return g.SkillsAPI.CreateSkills(ctx, rev, skills)
}

func (g guardedSkills) UpdateSkills(ctx context.Context, rev string, skills []liveperson.Skill) ([]liveperson.Skill, string, error) {
	ctx = checked(ctx, g.lock)
	return g.SkillsAPI.UpdateSkills(ctx, rev, skills)
}

func (g guardedSkills) DeleteSkills(ctx context.Context, rev string, ids []int64) (string, error) {
	ctx = checked(ctx, g.lock)
	return g.SkillsAPI.DeleteSkills(ctx, rev, ids)
}

// checked returns ctx under which the LivePerson client confirms lock
// before every attempt of a write, the first included, as the last thing
// before the request leaves (liveperson.WithWriteCheck). The errors of
// those checks are lockErrors: nothing was sent. It does not confirm the
// lock itself as well: the client's check of the first attempt follows at
// once, and a second round trip to the database per write said nothing
// more.
func checked(ctx context.Context, lock lockChecker) context.Context {
	return liveperson.WithWriteCheck(ctx, func(ctx context.Context) error {
		if err := lock.Check(ctx); err != nil {
			return notSent(err)
		}
		return nil
	})
}

// guardedUsers is guardedSkills for the Users API.
type guardedUsers struct {
	UsersAPI
	lock lockChecker
}

func (g guardedUsers) UpdateUsers(ctx context.Context, rev string, users []liveperson.User) (string, error) {
	ctx = checked(ctx, g.lock)
	return g.UsersAPI.UpdateUsers(ctx, rev, users)
}

// guardWrites returns deps whose LivePerson writes confirm lock first.
func guardWrites(deps Deps, lock lockChecker) Deps {
	deps.Skills = guardedSkills{SkillsAPI: deps.Skills, lock: lock}
	if deps.Users != nil {
		deps.Users = guardedUsers{UsersAPI: deps.Users, lock: lock}
	}
	return deps
}

// lockError is a write refused because the run lock could not be
// confirmed: nothing was sent.
type lockError struct{ err error }

func (e *lockError) Error() string { return e.err.Error() }
func (e *lockError) Unwrap() error { return e.err }

func notSent(err error) error { return &lockError{err: err} }

// unconfirmedLock reports whether err is a write refused for want of the
// run lock (lost, or its check failed).
func unconfirmedLock(err error) bool {
	var le *lockError
	return errors.As(err, &le)
}
