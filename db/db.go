// Package db is the PostgreSQL storage of the resident portal (pgx v5): the
// connection pool, the embedded migrations, every query the service layer and
// the admin tool need, and the one place where PostgreSQL errors become
// domain error codes.
//
// Secrets never leave this package in encrypted form and never enter the
// database in clear: writes encrypt with the Keyring and store a lookup
// digest beside the ciphertext, reads decrypt. Every multi-statement write
// runs in one transaction together with its change-request (outbox) rows.
package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/residentportal/bff/graph/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// DB is the storage handle. Safe for concurrent use.
type DB struct {
	pool boundedPool
	keys *model.Keyring
	// maxRetries bounds the attempts at a generated passphrase whose digest
	// collides with another in the property.
	maxRetries int
	// generate makes passphrases; tests inject collisions through it.
	generate func(length int) string
}

// Options tune Open.
type Options struct {
	// Tracer, when set, observes every statement (metrics, tests that count).
	Tracer pgx.QueryTracer
	// MaxConns caps the pool (0: pgxpool's default).
	MaxConns int32
	// Tracing, when set, makes a span of every statement sent inside a
	// recorded trace (otelpgx: the statement's text, never its parameters).
	Tracing trace.TracerProvider
	// StatementTimeout bounds each statement, from its start to the end of
	// its rows (0: none; see bounded.go).
	StatementTimeout time.Duration
}

// Open connects a pool to url. It does not wait for the database: a pool
// connects lazily, so a server can start while PostgreSQL is still coming up.
func Open(ctx context.Context, url string, keys *model.Keyring, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error would quote the URL, password included.
		return nil, errors.New("db.Open: DATABASE_URL is not a valid connection string")
	}
	var tracers []pgx.QueryTracer
	if opts.Tracer != nil {
		tracers = append(tracers, opts.Tracer)
	}
	if opts.Tracing != nil {
		tracers = append(tracers, statementSpans{otelpgx.NewTracer(otelpgx.WithTracerProvider(opts.Tracing),
			otelpgx.WithTrimSQLInSpanName(), otelpgx.WithDisableConnectionDetailsInAttributes())})
	}
	switch len(tracers) {
	case 1:
		cfg.ConnConfig.Tracer = tracers[0]
	case 2:
		cfg.ConnConfig.Tracer = multitracer.New(tracers...)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// Statements are planned once per connection, not on every execution:
	// PostgreSQL otherwise re-plans each execution of a statement with an
	// array parameter (= ANY($1)), which cost more than executing it
	// (pg_stat_statements with track_planning, BENCHMARKS.md). The queries
	// are written for generic plans (no "$n IS NULL OR" around an index
	// range); a DATABASE_URL that sets plan_cache_mode wins.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	// Fail fast when the database cannot be reached (see dial.go).
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	cfg.ConnConfig.DialFunc = dialer().DialContext
	// google/uuid values go over the wire as binary uuids (see RegisterUUID).
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		RegisterUUID(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db.Open: %w", err)
	}
	return &DB{pool: boundedPool{Pool: pool, timeout: opts.StatementTimeout}, keys: keys, maxRetries: 8, generate: model.GeneratePassphrase}, nil
}

// Pool exposes the pool to callers that need raw access (migrations,
// readiness, LISTEN/NOTIFY).
func (db *DB) Pool() *pgxpool.Pool { return db.pool.Pool }

// Keys is the keyring this handle encrypts with.
func (db *DB) Keys() *model.Keyring { return db.keys }

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers; UNAVAILABLE otherwise.
func (db *DB) Ping(ctx context.Context) error {
	return wrap("db.Ping", db.pool.Ping(ctx))
}

// inTx runs fn in a transaction, committing if it returns nil. Errors are
// mapped to domain codes and wrapped with op. Taking the connection with
// BEGIN, each statement, and COMMIT each have the statement deadline
// (boundedPool).
func (db *DB) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if db.pool.timeout <= 0 {
		return wrap(op, pgx.BeginFunc(ctx, db.pool.Pool, fn))
	}
	c, sctx, cancel, err := db.pool.acquire(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer c.Release()
	tx, err := c.Begin(sctx)
	cancel()
	if err != nil {
		return wrap(op, err)
	}
	btx := boundedTx{Tx: tx, timeout: db.pool.timeout}
	if err := fn(btx); err != nil {
		_ = btx.Rollback(ctx)
		return wrap(op, err)
	}
	if err := btx.Commit(ctx); err != nil {
		_ = btx.Rollback(ctx) // pgx closes the connection if the outcome is unknown
		return wrap(op, err)
	}
	return nil
}

// Bounds of the delivery workers' transactions (the relay's, the
// disconnect worker's claims): a lock someone holds on the outbox (a
// migration, an operator's LOCK TABLE) or a statement that stalls fails
// the batch, which is tried again after a backoff, instead of holding the
// worker — and every property's changes behind it — for as long as it
// lasts.
const (
	workerLockTimeout      = "1s"
	workerStatementTimeout = "5s"
)

// inWorkerTx is inTx with the delivery workers' bounds set for the
// transaction (SET LOCAL).
func (db *DB) inWorkerTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return db.inTx(ctx, op, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)`,
			workerLockTimeout, workerStatementTimeout); err != nil {
			return err
		}
		return fn(tx)
	})
}

// statementSpans is otelpgx's tracer for statements and batches only: the
// pool's acquisitions, connections and prepares are not statements a
// request sent. Outside a recorded trace it does nothing (otelpgx would
// still time every statement for metrics that nothing here reads).
type statementSpans struct{ t *otelpgx.Tracer }

func recording(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

func (s statementSpans) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !recording(ctx) {
		return ctx
	}
	return s.t.TraceQueryStart(ctx, c, d)
}
func (s statementSpans) TraceQueryEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryEndData) {
	if recording(ctx) { // the statement's own span, started above
		s.t.TraceQueryEnd(ctx, c, d)
	}
}

// A batch is one span (one round trip), its statements' texts in its
// db.query.text, each ended by ";" and a line break: a span per statement
// of a batch cost a traced request more than telling them apart was worth.
type batchTexts struct{}

func (s statementSpans) TraceBatchStart(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	if !recording(ctx) {
		return ctx
	}
	ctx = s.t.TraceBatchStart(ctx, c, d)
	var texts []string
	return context.WithValue(ctx, batchTexts{}, &texts)
}

func (s statementSpans) TraceBatchQuery(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchQueryData) {
	texts, ok := ctx.Value(batchTexts{}).(*[]string)
	if !ok {
		return
	}
	*texts = append(*texts, d.SQL)
	if d.Err != nil {
		span := trace.SpanFromContext(ctx)
		span.RecordError(d.Err)
		span.SetStatus(codes.Error, d.Err.Error())
	}
}

func (s statementSpans) TraceBatchEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchEndData) {
	texts, ok := ctx.Value(batchTexts{}).(*[]string)
	if !ok {
		return
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("db.query.text", strings.Join(*texts, ";\n")+";"))
	s.t.TraceBatchEnd(ctx, c, d)
}
