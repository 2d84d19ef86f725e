package store

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SynchronousCommits is synchronous_commit on each connection the pool
// can hold, for tests.
func (s *Store) SynchronousCommits(ctx context.Context) ([]string, error) {
	var out []string
	var held []*pgxpool.Conn
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range s.pool.Config().MaxConns {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		held = append(held, c)
		var v string
		if err := c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
