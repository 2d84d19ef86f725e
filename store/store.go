package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/migrations"
)

// Defaults for Options.
const (
	QueryTimeoutDefault   = 10 * time.Second
	ConnectTimeoutDefault = 10 * time.Second
	// MigrateLockTimeoutDefault bounds how long Migrate waits for another
	// process that is migrating the same database.
	MigrateLockTimeoutDefault = 5 * time.Minute
)

// migrationTable records which migrations goose has applied. It is named
// after us so it cannot collide with another goose user of the same database.
const migrationTable = "skillsync_schema_version"

// migrateLockID is the advisory lock key goose holds while migrating; it is
// distinct from the run lock's key and from goose's default.
const migrateLockID int64 = 0x5ea1_0001

// Options tune a Store. The zero value is usable.
type Options struct {
	// QueryTimeout bounds every query (default 10s). A query running longer
	// is cancelled and its method returns an error.
	QueryTimeout time.Duration
	// ConnectTimeout bounds the first connection made by Open (default 10s).
	ConnectTimeout time.Duration
	// MaxConns caps the pool (default: pgxpool's, at least 4). One
	// connection is pinned for the whole of a run by the run lock.
	MaxConns int32
	// MinConns is how many connections the pool opens at once and keeps
	// open, idle or not (default 0: connections are opened when needed
	// and closed after 30 minutes idle; at most MaxConns). A daemon whose
	// runs come in ticks keeps those its runs need, so that no tick pays
	// for opening them again: a server process, its authentication and
	// TLS cost the server some 20 ms of CPU each on a small machine, and
	// a fresh session warms its caches on its first queries.
	MinConns int32
	// MigrateLockTimeout bounds how long Migrate waits for a concurrent
	// migration by another process (default 5m).
	MigrateLockTimeout time.Duration
	// Logger receives migration progress (default: discard).
	Logger *slog.Logger
	// LockKey is the advisory lock key of the run lock (0: DefaultRunLockKey).
	// Processes using the same key on the same database run one at a time;
	// a different key makes them independent of each other. Give a
	// throwaway setup (the demo) its own key so that, pointed at a
	// production database by mistake, it cannot hold the production
	// daemon's runs off; processes that share a registry must share a key.
	LockKey int64
	// LockKeepAlive is how often the connection holding the run lock is
	// used while a run holds it (default 30s): a server or proxy that ends
	// idle sessions (idle_session_timeout) would otherwise end the
	// session, and the lock with it, while the run reads.
	LockKeepAlive time.Duration
	// Account is the LivePerson account id whose state the Store reads
	// and writes (Store.Account gives views of other accounts on the same
	// pool). Empty: the Store can migrate, check the schema and hand over
	// legacy state, but every method that reads or writes an account's
	// state returns ErrNoAccount.
	Account string
	// NameKey is the identity of skill names (sync.NameKey: NFC, trimmed,
	// whitespace collapsed, case-folded): ReleaseSkill finds a skill by it,
	// as the planner and the applier compare names. nil: exact names.
	NameKey func(string) string
}

// Store is skillsync's run-state store on one PostgreSQL database, seen
// through one LivePerson account: every query it makes names the account,
// so one account's runs, registry, snapshots and pending deletes are never
// another's. It is safe for concurrent use; one pool per process (Open),
// with a view per account (Account).
type Store struct {
	pool         *pgxpool.Pool
	queryTimeout time.Duration
	opts         Options
	logger       *slog.Logger
	where        string // host, port, database and user for error messages; never the password
	// account is the LivePerson account id of this view (opts.Account
	// for the Store Open returned); lockKey is its run lock's key.
	account string
	lockKey int64
}

// ErrNoAccount is returned by the methods that read or write an account's
// state when the Store was opened without one (Options.Account).
var ErrNoAccount = errors.New("store: no LivePerson account chosen (Options.Account or Store.Account)")

// Account returns a view of the same database (the same pool) that reads
// and writes the state of LivePerson account id, with that account's run
// lock. Closing any view closes the pool of them all.
func (s *Store) Account(id string) *Store {
	v := *s
	v.account = id
	v.lockKey = AccountLockKey(s.opts.LockKey, id)
	return &v
}

// AccountID is the LivePerson account id of this view (empty: none).
func (s *Store) AccountID() string { return s.account }

// scoped returns ErrNoAccount unless the Store reads one account's state.
func (s *Store) scoped() error {
	if s.account == "" {
		return ErrNoAccount
	}
	return nil
}

// Open connects to the database at dbURL (a postgres:// URL or a key=value
// connection string) and checks that it answers. Errors name the host and
// database but never the password.
func Open(ctx context.Context, dbURL string, opts Options) (*Store, error) {
	opts.QueryTimeout = cmp.Or(opts.QueryTimeout, QueryTimeoutDefault)
	opts.ConnectTimeout = cmp.Or(opts.ConnectTimeout, ConnectTimeoutDefault)
	opts.MigrateLockTimeout = cmp.Or(opts.MigrateLockTimeout, MigrateLockTimeoutDefault)
	opts.LockKey = cmp.Or(opts.LockKey, DefaultRunLockKey)
	opts.LockKeepAlive = cmp.Or(opts.LockKeepAlive, LockKeepAliveDefault)
	if opts.LockKey == migrateLockID {
		return nil, fmt.Errorf("store: lock key %#x is the migration lock's; choose another", opts.LockKey)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("database url is not valid (expected postgres://user:password@host:port/dbname): %s",
			scrubPassword(err.Error(), dbURL))
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.MaxConns < 4 {
		// The run lock pins one connection for the whole run; leave room
		// for the run's own queries.
		cfg.MaxConns = 4
	}
	if opts.MinConns > 0 {
		cfg.MinConns = min(opts.MinConns, cfg.MaxConns)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > opts.ConnectTimeout {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	where := describe(cfg.ConnConfig)

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, secret.Wrap(err, fmt.Sprintf("connect to postgres at %s: %s", where, scrubPassword(err.Error(), dbURL)))
	}
	s := &Store{pool: pool, queryTimeout: opts.QueryTimeout, opts: opts, logger: logger, where: where}
	s = s.Account(opts.Account)

	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, secret.Wrap(err, fmt.Sprintf(
			"connect to postgres at %s: %s (check database.url and that the server is running)",
			where, scrubPassword(err.Error(), dbURL)))
	}
	return s, nil
}

// describe names a connection target without its password.
func describe(c *pgx.ConnConfig) string {
	host := c.Host
	if strings.HasPrefix(host, "/") {
		host = "socket " + host
	}
	return fmt.Sprintf("%s:%d database %q user %q", host, c.Port, c.Database, c.User)
}

// scrubPassword removes the password of connString from msg: pgx redacts
// passwords from its errors on a best-effort basis only.
func scrubPassword(msg, connString string) string {
	var secrets []string
	if u, err := url.Parse(connString); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
	}
	if cfg, err := pgx.ParseConfig(connString); err == nil && cfg.Password != "" {
		secrets = append(secrets, cfg.Password)
	}
	if len(secrets) == 0 && (strings.Contains(connString, "@") || strings.Contains(connString, "password")) {
		// Unparseable string with credentials: we cannot tell which part
		// is the password, so drop the detail entirely.
		return "malformed connection string"
	}
	// Every form is replaced, however short: the password is known to be
	// in this very connection string, so nothing is hunted for blindly.
	return secret.Text(msg, secrets)
}

// Close closes the pool. Locks still held are released by the server when
// their connections close.
func (s *Store) Close() {
	s.pool.Close()
}

// Ping checks that the database answers within the query timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres at %s: %w", s.where, err)
	}
	return nil
}

// Migrate applies the pending migrations. It holds a Postgres session
// advisory lock while doing so, so that replicas starting at once apply each
// migration exactly once; each migration runs in its own transaction.
//
// A database that a newer build has migrated is refused with a
// *SchemaTooNewError before anything is written: this build's queries may
// not fit its tables. So is one that a newer build migrates while this one
// waits for the lock (goose then finds nothing it knows left to apply).
func (s *Store) Migrate(ctx context.Context) error {
	status, err := s.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	var tooNew *SchemaTooNewError
	if err := status.Err(); errors.As(err, &tooNew) {
		return err
	}
	// A fresh locker per call: its retry backoffs keep state.
	period := uint64(1) // seconds between attempts to take the lock
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrateLockID),
		lock.WithLockTimeout(period, max(1, uint64(s.opts.MigrateLockTimeout/time.Second))),
		lock.WithUnlockTimeout(period, 30),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker),
		goose.WithTableName(migrationTable),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			s.logger.Info("applied migration", "version", r.Source.Version,
				"file", r.Source.Path, "duration", r.Duration)
		}
	}
	if err != nil {
		return fmt.Errorf("migrate postgres at %s: %w", s.where, err)
	}
	// A newer skillsync may have migrated while this one waited for the
	// lock: goose ignores the versions it does not know, so look again.
	status, err = s.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	if err := status.Err(); errors.As(err, &tooNew) {
		return err
	}
	return nil
}

// timeout bounds one query (or one short group of queries) by the query
// timeout.
func (s *Store) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.queryTimeout)
}

// withTx runs fn in a transaction bounded by the query timeout, committing if
// fn returns nil. The rollback ignores cancellation of ctx: a cancelled
// caller must still leave no transaction open on a pooled connection.
func (s *Store) withTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) (err error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), s.queryTimeout)
		defer rcancel()
		if rerr := tx.Rollback(rctx); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
	}()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
