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
// and feeds l until ctx ends (see Listen).
func (db *DB) ListenAuthChanges(ctx context.Context, l AuthListener, log *slog.Logger) {
	db.Listen(ctx, AuthChannel, func(payload string) {
		kind, id, ok := strings.Cut(payload, ":")
		if parsed, err := uuid.Parse(id); ok && err == nil {
			l.AuthChanged(kind, parsed)
		}
	}, l.ListenerUp, log)
}

// Listen holds a dedicated connection LISTENing on channel and calls
// notice for each notification until ctx ends, reconnecting with backoff
// (100 ms to 2 s) when the connection drops or stops answering (see
// listenQuiet). up is told true once LISTEN is in place (after every
// reconnect) and false as soon as the connection is given up: notices
// may have been missed while it was down.
func (db *DB) Listen(ctx context.Context, channel string, notice func(payload string), up func(bool), log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, channel, notice, up)
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
// for listenQuiet: a round trip that must come back within listenProof.
// A connection that stalls without closing (a frozen proxy, a dead NAT
// entry) is given up within listenQuiet+listenProof, and the listener says
// ListenerUp(false) at once, so revocation never waits on a silent socket.
const (
	listenQuiet = 250 * time.Millisecond
	listenProof = 250 * time.Millisecond
)

func (db *DB) listenOnce(ctx context.Context, channel string, notice func(string), up func(bool)) error {
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
		if err := withDeadline(ctx, listenProof, conn.Ping); err != nil {
			return fmt.Errorf("the listening connection did not answer within %v: %w", listenProof, err)
		}
	}
}

func withDeadline(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return fn(ctx)
}
