package hrsource

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// postgresSource runs the configured SELECT against the HR database in a
// read-only transaction.
type postgresSource struct{ reader }

// Read runs the query; its columns become attributes and NULL becomes "".
func (s *postgresSource) Read(ctx context.Context) (*Snapshot, error) {
	pc, err := pgx.ParseConfig(s.cfg.DatabaseURL)
	if err != nil {
		return nil, errors.New("hr.database_url: not a valid PostgreSQL URL or connection string")
	}
	name := fmt.Sprintf("postgres %s/%s", pc.Host, pc.Database)
	fail := func(what string, err error) error {
		return s.scrub(fmt.Errorf("%s: %s: %w", name, what, err))
	}
	if s.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fail("connect", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fail("begin read-only transaction", err)
	}
	defer func() {
		// A read-only transaction has nothing to keep; rollback even when
		// ctx is done so the connection closes cleanly.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	// Text results give every type its canonical PostgreSQL rendering.
	rows, err := tx.Query(ctx, s.cfg.Query, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, fail("hr.query", err)
	}
	defer rows.Close()

	c := s.collector()
	fds := rows.FieldDescriptions()
	isBool := make([]bool, len(fds))
	for i, fd := range fds {
		c.columns = append(c.columns, fd.Name)
		isBool[i] = fd.DataTypeOID == pgtype.BoolOID
	}
	c.headerWhere = "hr.query"
	var buf []byte
	ends := make([]int, len(fds))
	for row := 1; rows.Next(); row++ {
		raw := rows.RawValues()
		// One string per row, sliced into its values.
		buf = buf[:0]
		for i, b := range raw {
			switch {
			case b == nil:
			case isBool[i]:
				buf = strconv.AppendBool(buf, len(b) > 0 && b[0] == 't')
			default:
				buf = append(buf, b...)
			}
			ends[i] = len(buf)
		}
		text := string(buf)
		vals := c.values(len(raw))
		start := 0
		for i, end := range ends {
			vals[i] = strings.TrimSpace(text[start:end])
			start = end
		}
		c.add(vals, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("hr.query", err)
	}
	c.setOrigins(0, func(dst []byte, row int) []byte {
		return strconv.AppendInt(append(dst, "query row "...), int64(row), 10)
	})
	return c.finish(name)
}
