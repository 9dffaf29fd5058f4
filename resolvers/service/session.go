package service

import (
	"context"
	"sync"
	"time"

	"github.com/residentportal/bff/graph/model"
)

// A Session is a credential held for the life of a live connection: a
// WebSocket connection, which carries many operations, or an SSE stream.
// Every operation on it is authorised against the credential's current
// state, exactly as an HTTP request is (see Service.Operation); between
// operations the session checks the credential again whenever a revocation
// notice may have changed it (or the notices come or go, see
// Authenticator.WatchEpoch), when its token expires, and at least every
// credentialRecheck. When it no longer holds, the session ends the
// connection through the transport's end function: UNAUTHENTICATED when
// the credential was revoked or expired (WebSocket close 4403),
// UNAVAILABLE when it cannot be checked (close 1013: try again later).
//
// An idle session holds no goroutine: its watch and its timer run a check
// when they fire.
type Session struct {
	auth *Authenticator
	raw  string
	end  func(code model.Code, reason string)

	mu       sync.Mutex
	p        model.Principal
	w        *credentialWatch
	timer    *time.Timer
	closed   bool
	checking bool // a check runs; again asks it for one more
	again    bool
}

// SessionCheckTimeout bounds one check of a session's credential.
const SessionCheckTimeout = 5 * time.Second

// OpenSession authenticates raw (a unit token or a manager key, as sent in
// connection_init or the Authorization header) and holds it for a live
// connection until Close; end is how the transport ends the connection
// when the credential stops holding (called at most once, never after
// Close). Errors: UNAUTHENTICATED, UNAVAILABLE.
func (s *Service) OpenSession(ctx context.Context, raw string, end func(code model.Code, reason string)) (*Session, error) {
	ss := &Session{auth: s.auth, raw: raw, end: end}
	p, err := s.auth.authenticate(ctx, &Credential{auth: s.auth, raw: raw})
	if err != nil {
		return nil, err
	}
	ss.p = p
	// Watched from here, and checked once more: a notice between the
	// check above and the watch is not missed.
	ss.check()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil, ErrRevoked
	}
	return ss, nil
}

// ErrRevoked is how a session's end names a credential that no longer
// holds.
var ErrRevoked = model.Errorf(model.CodeUnauthenticated, "the credential was revoked or has expired")

// Principal is the caller the session's credential names.
func (ss *Session) Principal() model.Principal { return ss.p }

// Current authenticates the session's credential against the database,
// bypassing the cache: a live connection calls it before it sends an event,
// so that a change committed after a revocation is never sent under the
// revoked credential, even when its notice overtakes the revocation's. A
// credential that no longer holds ends the session. UNAUTHENTICATED,
// UNAVAILABLE.
func (ss *Session) Current(ctx context.Context) error {
	// Bounded like every other check: a database that does not answer
	// ends the session as interrupted instead of holding the event.
	check, cancel := context.WithTimeout(ctx, SessionCheckTimeout)
	defer cancel()
	p, err := ss.auth.authenticate(check, &Credential{auth: ss.auth, raw: ss.raw, fresh: true})
	if err == nil && p.PropertyID != ss.p.PropertyID {
		err = model.ErrBadToken
	}
	if err != nil && ctx.Err() == nil {
		ss.fail(err)
	}
	return err
}

// check authenticates the credential again (through the cache, which
// every revocation notice empties of what it names), renewing the watch
// first and the timer after; concurrent calls fold into one more check.
func (ss *Session) check() {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	if ss.checking {
		ss.again = true
		ss.mu.Unlock()
		return
	}
	ss.checking = true
	ss.mu.Unlock()
	for {
		w := ss.auth.watch(ss.p, ss.check)
		ss.mu.Lock()
		if ss.closed { // stopped meanwhile: stop unwatched the old one only
			ss.mu.Unlock()
			ss.auth.unwatch(w)
			return
		}
		old := ss.w
		ss.w = w
		ss.mu.Unlock()
		if old != nil {
			ss.auth.unwatch(old)
		}
		ctx, cancel := context.WithTimeout(context.Background(), SessionCheckTimeout)
		p, err := ss.auth.authenticate(ctx, &Credential{auth: ss.auth, raw: ss.raw})
		cancel()
		if err == nil && p.PropertyID != ss.p.PropertyID {
			err = model.ErrBadToken
		}
		if err != nil {
			ss.fail(err)
			return
		}
		ss.mu.Lock()
		if ss.closed {
			ss.mu.Unlock()
			return
		}
		next := ss.nextCheck()
		if ss.timer == nil {
			ss.timer = time.AfterFunc(next, ss.check)
		} else {
			ss.timer.Reset(next)
		}
		if !ss.again {
			ss.checking = false
			ss.mu.Unlock()
			return
		}
		ss.again = false
		ss.mu.Unlock()
	}
}

// nextCheck is how long the session waits for its next check when its
// watch does not fire: until its token expires (just past, so that the
// check sees it expired), at most credentialRecheck. Called with mu held.
func (ss *Session) nextCheck() time.Duration {
	next := credentialRecheck
	if !ss.p.Expires.IsZero() {
		next = min(next, ss.p.Expires.Sub(ss.auth.now())+time.Millisecond)
	}
	return max(next, 0)
}

// fail ends the session because err: the connection is closed as revoked
// (UNAUTHENTICATED) or as interrupted (anything else: an outage is not a
// revocation, and the client connects again later).
func (ss *Session) fail(err error) {
	if !ss.stop() {
		return
	}
	if model.ErrorCode(err) == model.CodeUnauthenticated {
		ss.end(model.CodeUnauthenticated, ErrRevoked.Message)
		return
	}
	ss.end(model.CodeUnavailable, "the credential cannot be checked right now; connect again shortly")
}

// stop closes the session, reporting whether this call closed it.
func (ss *Session) stop() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	ss.closed = true
	if ss.timer != nil {
		ss.timer.Stop()
	}
	if ss.w != nil {
		ss.auth.unwatch(ss.w)
	}
	return true
}

// Close releases the session (its watch and timer); end is not called.
func (ss *Session) Close() { ss.stop() }

type sessionKey struct{}

// WithSession returns ctx carrying the live connection's session.
func WithSession(ctx context.Context, ss *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, ss)
}

func sessionFrom(ctx context.Context) *Session {
	ss, _ := ctx.Value(sessionKey{}).(*Session)
	return ss
}
