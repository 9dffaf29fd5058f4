package db

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// AuthChannel is the notification channel of revocation notices.
const AuthChannel = "portal_auth"

// AuthListener is told of revocation notices and of the state of the
// listening connection.
type AuthListener interface {
	// AuthChanged is called for each notice: kind is "unit", "property" or
	// "key", id the id of the changed row.
	AuthChanged(kind string, id uuid.UUID)
	// ListenerUp is called with true once LISTEN is in place (after every
	// reconnect) and with false as soon as the connection is lost; while it
	// is down, notices can be missed.
	ListenerUp(bool)
}

// ListenAuthChanges holds a dedicated connection LISTENing on AuthChannel
// and feeds l until ctx ends (see Listen). The listener is told it is down
// as soon as the connection is slow to prove itself (listenProof), not
// only when it is given up: a revocation must never wait on a silent
// socket.
func (db *DB) ListenAuthChanges(ctx context.Context, l AuthListener, log *slog.Logger) {
	db.listen(ctx, AuthChannel, func(payload string) {
		kind, id, ok := strings.Cut(payload, ":")
		if parsed, err := uuid.Parse(id); ok && err == nil {
			l.AuthChanged(kind, parsed)
		}
	}, l.ListenerUp, true, log)
}

// Listen holds a dedicated connection LISTENing on channel and calls
// notice for each notification until ctx ends, reconnecting with backoff
// (100 ms to 2 s) when the connection drops or stops answering (see
// listenQuiet). up is told true once LISTEN is in place (after every
// reconnect) and false as soon as the connection is given up: notices
// may have been missed while it was down. A connection that is only slow
// to answer (a loaded machine) is waited for, up to listenGiveUp: nothing
// sent on it is lost meanwhile.
func (db *DB) Listen(ctx context.Context, channel string, notice func(payload string), up func(bool), log *slog.Logger) {
	db.listen(ctx, channel, notice, up, false, log)
}

// listen is Listen; strict tells up false as soon as a proof is late
// (and true again if it comes, within listenGiveUp).
func (db *DB) listen(ctx context.Context, channel string, notice func(payload string), up func(bool), strict bool, log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, channel, notice, up, strict)
		up(false)
		if ctx.Err() != nil {
			return
		}
		log.Warn("listening connection lost; reconnecting", "channel", channel, "error", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// The listening connection proves it is alive whenever it has been quiet
// for listenQuiet: a round trip that should come back within listenProof.
// A late proof makes a strict listener (revocations) say ListenerUp(false)
// at once, within listenQuiet+listenProof, so revocation never waits on a
// silent socket; the connection itself is given up (and notices may be
// missed) only when the proof has not come back within listenGiveUp — a
// connection that stalls without closing (a frozen proxy, a dead NAT
// entry). A busy machine answers late without losing anything: giving
// the connection up then would interrupt every live-update subscriber.
const (
	listenQuiet  = 250 * time.Millisecond
	listenProof  = 250 * time.Millisecond
	listenGiveUp = 5 * time.Second
)

func (db *DB) listenOnce(ctx context.Context, channel string, notice func(string), up func(bool), strict bool) error {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.Tracer = nil // notices are not request statements
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		// Closing says goodbye to the server; on a stalled socket that
		// must not wait.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listenProof)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if err := withDeadline(ctx, listenProof, func(ctx context.Context) error {
		_, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize())
		return err
	}); err != nil {
		return err
	}
	up(true)
	for {
		err := withDeadline(ctx, listenQuiet, func(ctx context.Context) error {
			n, err := conn.WaitForNotification(ctx)
			if err == nil {
				notice(n.Payload)
			}
			return err
		})
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !pgconn.Timeout(err):
			return err
		}
		// Quiet: prove the connection still answers.
		if err := prove(ctx, conn, strict, up); err != nil {
			return err
		}
	}
}

// prove makes a round trip on conn, which must come back within
// listenGiveUp; if it takes longer than listenProof, a strict listener is
// told it is down meanwhile, and up again when the answer comes.
func prove(ctx context.Context, conn *pgx.Conn, strict bool, up func(bool)) error {
	done := make(chan error, 1)
	go func() { done <- withDeadline(ctx, listenGiveUp, conn.Ping) }()
	late := time.NewTimer(listenProof)
	defer late.Stop()
	select {
	case err := <-done:
		return answered(err)
	case <-late.C:
	}
	if strict {
		up(false)
	}
	if err := answered(<-done); err != nil {
		return err
	}
	if strict {
		up(true)
	}
	return nil
}

func answered(err error) error {
	if err != nil {
		return fmt.Errorf("the listening connection did not answer within %v: %w", listenGiveUp, err)
	}
	return nil
}

func withDeadline(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return fn(ctx)
}
