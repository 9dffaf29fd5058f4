package db

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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
// and feeds l until ctx ends, reconnecting with backoff (100 ms to 2 s) when
// the connection drops.
func (db *DB) ListenAuthChanges(ctx context.Context, l AuthListener, log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, l)
		l.ListenerUp(false)
		if ctx.Err() != nil {
			return
		}
		log.Warn("revocation listener disconnected; token checks go to the database until it is back",
			"error", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (db *DB) listenOnce(ctx context.Context, l AuthListener) error {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.Tracer = nil // notices are not request statements
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+AuthChannel); err != nil {
		return err
	}
	l.ListenerUp(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		kind, id, ok := strings.Cut(n.Payload, ":")
		if parsed, err := uuid.Parse(id); ok && err == nil {
			l.AuthChanged(kind, parsed)
		}
	}
}
