package db_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
)

// A database host that goes silent (a black hole: every packet dropped, in a
// network namespace of the test's own) ends the pool's connection within
// TCP_USER_TIMEOUT (2 s) of a statement sent to it, whatever the
// statement's own deadline; a connection dialled without it is still
// waiting at twice that.
func TestUserTimeoutEndsABlackHoledConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("a network namespace and a PostgreSQL in it: make test runs it, make check does not")
	}
	n := dbtest.StartNetns(t)
	ctx := context.Background()
	connect := func(d *net.Dialer) *pgx.Conn {
		cfg := dbtest.Must[*pgx.ConnConfig](t)(pgx.ParseConfig(n.URL))
		cfg.DialFunc = d.DialContext
		c := dbtest.Must[*pgx.Conn](t)(pgx.ConnectConfig(ctx, cfg))
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ours, plain := connect(db.Dialer()), connect(&net.Dialer{})
	defer ours.Close(ctx)
	defer plain.Close(ctx)

	n.BlackHole(true)
	type outcome struct {
		err  error
		took time.Duration
	}
	run := func(c *pgx.Conn, within time.Duration) chan outcome {
		done := make(chan outcome, 1)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, within)
			defer cancel()
			start := time.Now()
			_, err := c.Exec(ctx, "SELECT 1")
			done <- outcome{err, time.Since(start)}
		}()
		return done
	}
	oursDone, plainDone := run(ours, 30*time.Second), run(plain, 30*time.Second)
	o := <-oursDone
	t.Logf("with TCP_USER_TIMEOUT: %v after %v", o.err, o.took)
	if o.err == nil || o.took > 6*time.Second {
		t.Fatalf("the black-holed connection ended with %v after %v; want an error within about 2 s", o.err, o.took)
	}
	select {
	case p := <-plainDone:
		t.Fatalf("the connection without TCP_USER_TIMEOUT ended too (%v after %v): the test shows nothing", p.err, p.took)
	case <-time.After(2 * o.took):
	}
	// The host answers again: the plain connection's statement, still
	// being sent, goes through; ours is gone and a new one works.
	n.BlackHole(false)
	if p := <-plainDone; p.err != nil {
		t.Fatalf("after the black hole: %v", p.err)
	}
	again := connect(db.Dialer())
	again.Close(ctx)
}
