package db

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// StatementCounter is a pgx tracer that counts the statements sent (each
// statement of a batch counts) and the sends: a statement alone or a batch,
// each one wait on the database. Metrics and the tests that prove a
// constant number of statements and round trips per request read it.
type StatementCounter struct {
	n, sends atomic.Int64
	// OnStatement, when set, is called for each statement.
	OnStatement func(sql string)
}

// Count is the number of statements sent so far.
func (c *StatementCounter) Count() int64 { return c.n.Load() }

// Sends is the number of statements sent alone plus batches sent so far.
func (c *StatementCounter) Sends() int64 { return c.sends.Load() }

// TraceQueryStart implements pgx.QueryTracer.
func (c *StatementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.sends.Add(1)
	if c.OnStatement != nil {
		c.OnStatement(data.SQL)
	}
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (c *StatementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart implements pgx.BatchTracer.
func (c *StatementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.sends.Add(1)
	return ctx
}

// TraceBatchQuery implements pgx.BatchTracer.
func (c *StatementCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	c.n.Add(1)
	if c.OnStatement != nil {
		c.OnStatement(data.SQL)
	}
}

// TraceBatchEnd implements pgx.BatchTracer.
func (c *StatementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
