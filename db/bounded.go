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
// deadline runs from the statement's start to the end of reading its
// rows.

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

func (p boundedPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := bound(ctx, p.timeout)
	defer cancel()
	return p.Pool.Exec(ctx, sql, args...)
}

func (p boundedPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := bound(ctx, p.timeout)
	rows, err := p.Pool.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return rows, err
	}
	return &boundedRows{Rows: rows, cancel: cancel}, nil
}

func (p boundedPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := bound(ctx, p.timeout)
	return boundedRow{row: p.Pool.QueryRow(ctx, sql, args...), cancel: cancel}
}

func (p boundedPool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	ctx, cancel := bound(ctx, p.timeout)
	return &boundedBatch{BatchResults: p.Pool.SendBatch(ctx, b), cancel: cancel}
}

// boundedTx is a transaction whose statements are bounded alike.
type boundedTx struct {
	pgx.Tx
	timeout time.Duration
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
	return &boundedRows{Rows: rows, cancel: cancel}, nil
}

func (t boundedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := bound(ctx, t.timeout)
	return boundedRow{row: t.Tx.QueryRow(ctx, sql, args...), cancel: cancel}
}

func (t boundedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	ctx, cancel := bound(ctx, t.timeout)
	return &boundedBatch{BatchResults: t.Tx.SendBatch(ctx, b), cancel: cancel}
}

// boundedRows ends its statement's deadline when it is closed.
type boundedRows struct {
	pgx.Rows
	cancel context.CancelFunc
}

func (r *boundedRows) Close() {
	r.Rows.Close()
	r.cancel()
}

type boundedRow struct {
	row    pgx.Row
	cancel context.CancelFunc
}

func (r boundedRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.row.Scan(dest...)
}

type boundedBatch struct {
	pgx.BatchResults
	cancel context.CancelFunc
}

func (b *boundedBatch) Close() error {
	defer b.cancel()
	return b.BatchResults.Close()
}
