package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// A connection lost in the middle of a statement is UNAVAILABLE (503), not
// INTERNAL (500): before, "unexpected EOF" and "conn closed" were internal.
func TestConnectionLostMidStatementIsUnavailable(t *testing.T) {
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	ctx := context.Background()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, proxy.URL(url), dbtest.Keys(t), db.Options{}))
	defer store.Close()
	admin := dbtest.Must[*pgx.Conn](t)(pgx.Connect(ctx, url))
	defer admin.Close(ctx)
	// The server goes on sleeping for a client that is gone: end it, or
	// dropping the test database waits for it.
	defer admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'")

	done := make(chan error, 1)
	go func() {
		_, err := store.Pool().Exec(ctx, "SELECT pg_sleep(30)")
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for { // wait for the statement to run, then cut its connection
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the statement never started")
		}
		<-time.After(10 * time.Millisecond)
	}
	proxy.Cut()
	cut := time.Now()
	err := <-done
	t.Logf("statement failed %v after the cut: %v", time.Since(cut), err)
	if code := db.CodeOf(err); code != model.CodeUnavailable {
		t.Fatalf("%v maps to %s, want UNAVAILABLE", err, code)
	}
	// The pool's next statement on a connection the server closed under it.
	before := time.Now()
	_, err = store.PropertyByID(ctx, uuid.New())
	t.Logf("next statement: %v after %v", err, time.Since(before))
	if code := model.ErrorCode(err); code != model.CodeUnavailable && code != model.CodeNotFound {
		t.Fatalf("after the cut: %v (%s)", err, code)
	}
}

// While the database accepts connections but never answers (black-holed
// behind a middlebox), statements fail within the connect deadline, not
// after the request's own deadline.
func TestUnansweredDatabaseFailsFast(t *testing.T) {
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	proxy.Hold(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // REQUEST_TIMEOUT's default
	defer cancel()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, proxy.URL(url), dbtest.Keys(t), db.Options{}))
	defer store.Close()
	start := time.Now()
	_, err := store.PropertyByID(ctx, uuid.New())
	took := time.Since(start)
	if code := model.ErrorCode(err); code != model.CodeUnavailable {
		t.Fatalf("%v (%s), want UNAVAILABLE", err, code)
	}
	if took > 5*time.Second {
		t.Fatalf("failed after %v; the connect deadline is 2s", took)
	}
	t.Logf("failed after %v", took.Round(time.Millisecond))
}

// A pooled connection that stalls mid-use (frozen: the connection stays
// open and nothing comes back, as behind a middlebox that still
// acknowledges) fails the statement at its own deadline, well before the
// request's, and the connection is given up: the next statement, on a
// fresh connection, works.
func TestStalledConnectionFailsAtTheStatementDeadline(t *testing.T) {
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // REQUEST_TIMEOUT's default
	defer cancel()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, proxy.URL(url), dbtest.Keys(t), db.Options{MaxConns: 4, StatementTimeout: 500 * time.Millisecond}))
	defer store.Close()
	defer proxy.Cut() // first: the frozen connection's close ends at once
	if _, err := store.PropertyByID(ctx, uuid.New()); model.ErrorCode(err) != model.CodeNotFound {
		t.Fatalf("before the stall: %v", err)
	}
	proxy.Freeze()
	start := time.Now()
	_, err := store.PropertyByID(ctx, uuid.New())
	took := time.Since(start)
	if code := model.ErrorCode(err); code != model.CodeUnavailable || took > 2*time.Second {
		t.Fatalf("%v (%s) after %v, want UNAVAILABLE within 2 s", err, code, took)
	}
	if ctx.Err() != nil {
		t.Fatal("the request's own deadline passed")
	}
	for deadline := time.Now().Add(5 * time.Second); ; { // the pool opens another connection in place of the one it gave up
		if _, err := store.PropertyByID(context.Background(), uuid.New()); model.ErrorCode(err) == model.CodeNotFound {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after the stall: %v", err)
		}
		<-time.After(50 * time.Millisecond)
	}
}

// The statement deadline is the statement's, not the request's wait for a
// pooled connection: a busy pool queues a request within its own
// deadline rather than failing it.
func TestStatementDeadlineLeavesThePoolWaitAlone(t *testing.T) {
	ctx := context.Background()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, dbtest.NewURL(t), dbtest.Keys(t), db.Options{MaxConns: 1, StatementTimeout: 200 * time.Millisecond}))
	defer store.Close()
	held := dbtest.Must[*pgxpool.Conn](t)(store.Pool().Acquire(ctx)) // the only connection
	released := make(chan struct{})
	go func() {
		<-time.After(600 * time.Millisecond) // three statement deadlines
		held.Release()
		close(released)
	}()
	_, err := store.PropertyByID(ctx, uuid.New())
	<-released
	if code := model.ErrorCode(err); code != model.CodeNotFound {
		t.Fatalf("a statement that waited for the pool: %v (%s), want NOT_FOUND", err, code)
	}
}
