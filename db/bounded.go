package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Every statement has a deadline of its own (Options.StatementTimeout),
// below the request's: a pooled connection that stalls — a middlebox that
// still acknowledges while PostgreSQL is gone, a frozen server — is given
// up (pgx closes it when the deadline passes) and the request answers
// UNAVAILABLE at once, instead of holding it until REQUEST_TIMEOUT. The
// deadline runs to the end of reading the statement's rows. It includes
// taking the connection when the pool has one idle or room for a new one
// (pgxpool's ping of a connection idle for a while, a new connection's
// dial): a database that is gone costs a request one deadline, not a ping,
// a dial and a statement's deadline in turn. Only the wait for a busy pool
// is the request's own (a burst queues requests within their deadline, it
// does not fail them).

// boundedPool is the pool with every statement bounded by timeout (none
// when it is 0).
type boundedPool struct {
	*pgxpool.Pool
	timeout time.Duration
}

func bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// acquire takes a connection for one statement and gives the statement's
// context: its deadline starts before the connection is taken, unless the
// pool is busy (every connection in use by a statement), when the wait for
// one is the request's own and the deadline starts after it. Connections
// being made (a dial that hangs) are not busy: waiting for one is the
// database's delay, bounded like a statement.
func (p boundedPool) acquire(ctx context.Context) (*pgxpool.Conn, context.Context, context.CancelFunc, error) {
	if st := p.Pool.Stat(); st.AcquiredConns() >= st.MaxConns() {
		c, err := p.Pool.Acquire(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		sctx, cancel := context.WithTimeout(ctx, p.timeout)
		return c, sctx, cancel, nil
	}
	sctx, cancel := context.WithTimeout(ctx, p.timeout)
	c, err := p.Pool.Acquire(sctx)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return c, sctx, cancel, nil
}

func (p boundedPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if p.timeout <= 0 {
		return p.Pool.Exec(ctx, sql, args...)
	}
	c, sctx, cancel, err := p.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer c.Release()
	defer cancel()
	return c.Exec(sctx, sql, args...)
}

func (p boundedPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if p.timeout <= 0 {
		return p.Pool.Query(ctx, sql, args...)
	}
	c, sctx, cancel, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(sctx, sql, args...)
	if err != nil {
		cancel()
		c.Release()
		return nil, err
	}
	return &boundedRows{Rows: rows, done: func() { cancel(); c.Release() }}, nil
}

func (p boundedPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if p.timeout <= 0 {
		return p.Pool.QueryRow(ctx, sql, args...)
	}
	c, sctx, cancel, err := p.acquire(ctx)
	if err != nil {
		return boundedRow{err: err}
	}
	return boundedRow{row: c.QueryRow(sctx, sql, args...), done: func() { cancel(); c.Release() }}
}

func (p boundedPool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if p.timeout <= 0 {
		return p.Pool.SendBatch(ctx, b)
	}
	c, sctx, cancel, err := p.acquire(ctx)
	if err != nil {
		return errBatch{err}
	}
	return &boundedBatch{BatchResults: c.SendBatch(sctx, b), done: func() { cancel(); c.Release() }}
}

// errBatch is the results of a batch that could not be sent.
type errBatch struct{ err error }

func (e errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatch) Query() (pgx.Rows, error)         { return nil, e.err }
func (e errBatch) QueryRow() pgx.Row                { return boundedRow{err: e.err} }
func (e errBatch) Close() error                     { return e.err }
func (e errBatch) Tx() pgx.Tx                       { return nil }

// boundedTx is a transaction whose statements are bounded alike.
type boundedTx struct {
	pgx.Tx
	timeout time.Duration
}

func (t boundedTx) Commit(ctx context.Context) error {
	ctx, cancel := bound(ctx, t.timeout)
	defer cancel()
	return t.Tx.Commit(ctx)
}

func (t boundedTx) Rollback(ctx context.Context) error {
	ctx, cancel := bound(ctx, t.timeout)
	defer cancel()
	return t.Tx.Rollback(ctx)
}

func (t boundedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := bound(ctx, t.timeout)
	defer cancel()
	return t.Tx.Exec(ctx, sql, args...)
}

func (t boundedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := bound(ctx, t.timeout)
	rows, err := t.Tx.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return rows, err
	}
	return &boundedRows{Rows: rows, done: cancel}, nil
}

func (t boundedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := bound(ctx, t.timeout)
	return boundedRow{row: t.Tx.QueryRow(ctx, sql, args...), done: cancel}
}

func (t boundedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	ctx, cancel := bound(ctx, t.timeout)
	return &boundedBatch{BatchResults: t.Tx.SendBatch(ctx, b), done: cancel}
}

// boundedRows ends its statement's deadline (and gives its connection
// back) when it is closed or read to its end (as pgxpool's rows do), once.
type boundedRows struct {
	pgx.Rows
	done   func()
	closed bool
}

func (r *boundedRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *boundedRows) Close() {
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.done()
	}
}

// boundedRow is a row whose Scan ends its statement's deadline (and gives
// its connection back); err, when set, is the reason there is none.
type boundedRow struct {
	row  pgx.Row
	done func()
	err  error
}

func (r boundedRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.done()
	return r.row.Scan(dest...)
}

type boundedBatch struct {
	pgx.BatchResults
	done   func()
	closed bool
}

func (b *boundedBatch) Close() error {
	err := b.BatchResults.Close()
	if !b.closed {
		b.closed = true
		b.done()
	}
	return err
}
