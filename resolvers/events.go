package resolvers

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// Live updates (SPEC §8.2). PostgreSQL announces every change to a unit,
// its users, its devices and its change requests on one channel, with ids
// only (db.EventsChannel); one LISTEN connection per replica feeds Events,
// which fans the notices out to the subscriptions in memory. Each event is
// read again through the service layer and the loaders, so a subscriber
// sees the state, never a notice's payload.

// Events fans live-update notices out to subscribers, by unit.
type Events struct {
	mu    sync.Mutex
	units map[uuid.UUID]map[*subscriber]struct{}
	// down is true while the notice connection is away: new
	// subscriptions are refused (UNAVAILABLE) rather than starved.
	down bool
}

// NewEvents returns an empty fan-out, down until its listener says it is
// up.
func NewEvents() *Events { return &Events{units: map[uuid.UUID]map[*subscriber]struct{}{}, down: true} }

// changeQueue bounds the change requests waiting for one subscriber: a
// subscriber that falls further behind is ended (it resubscribes), rather
// than holding memory for ever.
const changeQueue = 64

// subscriber is one subscription's inbox.
type subscriber struct {
	unit uuid.UUID
	// dirty holds at most one signal: a burst of changes to the unit is
	// coalesced into one read of its final state.
	dirty chan struct{}
	// changes holds the ids of change requests written or moved on.
	changes chan uuid.UUID
	// behind is closed when changes overflowed.
	behind     chan struct{}
	behindOnce sync.Once
	// interrupted is closed when the notice connection was lost: events
	// may be missed, so the subscription ends and its client subscribes
	// again (graphql-ws clients retry by themselves).
	interrupted     chan struct{}
	interruptedOnce sync.Once
}

func (s *subscriber) mark() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// Notice takes one notification payload ("u:<unit>", "c:<change>:<unit>").
func (e *Events) Notice(payload string) {
	kind, rest, _ := strings.Cut(payload, ":")
	var change uuid.UUID
	if kind == "c" {
		id, unit, ok := strings.Cut(rest, ":")
		var err error
		if change, err = uuid.Parse(id); !ok || err != nil {
			return
		}
		rest = unit
	}
	unit, err := uuid.Parse(rest)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.units[unit] {
		if kind == "u" {
			s.mark()
			continue
		}
		if s.changes == nil {
			continue
		}
		select {
		case s.changes <- change:
		default:
			s.behindOnce.Do(func() { close(s.behind) })
		}
	}
}

// ListenerUp is told when the notice connection comes and goes. When it
// goes, notices can be missed: rather than leave subscribers silently
// starved, every subscription is ended with UNAVAILABLE (WebSocket close
// 1013, "try again later"), and subscribing again works once it is back.
func (e *Events) ListenerUp(up bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.down = !up
	if up {
		return
	}
	for _, subs := range e.units {
		for s := range subs {
			s.interruptedOnce.Do(func() { close(s.interrupted) })
		}
	}
}

func (e *Events) subscribe(unit uuid.UUID, changes bool) (*subscriber, error) {
	s := &subscriber{unit: unit, dirty: make(chan struct{}, 1), behind: make(chan struct{}), interrupted: make(chan struct{})}
	if changes { // a unit subscriber has no queue (a nil channel is never ready)
		s.changes = make(chan uuid.UUID, changeQueue)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return nil, errEventsDown
	}
	if e.units[unit] == nil {
		e.units[unit] = map[*subscriber]struct{}{}
	}
	e.units[unit][s] = struct{}{}
	return s, nil
}

var errEventsDown = model.Errorf(model.CodeUnavailable, "live updates are interrupted; subscribe again shortly")

func (e *Events) unsubscribe(s *subscriber) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.units[s.unit], s)
	if len(e.units[s.unit]) == 0 {
		delete(e.units, s.unit)
	}
}

// Events is the service's live-update fan-out (nil without one).
func (s *Service) Events() *Events { return s.events }

// Up reports whether the notice connection is up, so that subscriptions
// are taken.
func (e *Events) Up() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.down
}

// Subscribers counts the subscriptions held (for tests and metrics).
func (e *Events) Subscribers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, subs := range e.units {
		n += len(subs)
	}
	return n
}

// A subscription checks its credential again whenever a revocation notice
// may have changed what its last check read (see credentialWatch; while
// the notices are away, the auth epoch stands in for them: see
// Authenticator.WatchEpoch), when its token expires, and at least every
// credentialRecheck.
const credentialRecheck = time.Hour

type endKey struct{}

// WithEnd returns ctx carrying how a transport ends a subscription the
// server ends: its credential was revoked (code UNAUTHENTICATED: the
// WebSocket closes with 4403), or live updates were interrupted
// (UNAVAILABLE: 1013); SSE sends an error with the code and ends the
// stream.
func WithEnd(ctx context.Context, end func(code model.Code, reason string)) context.Context {
	return context.WithValue(ctx, endKey{}, end)
}

func endSubscription(ctx context.Context, code model.Code, reason string) {
	if end, ok := ctx.Value(endKey{}).(func(model.Code, string)); ok {
		end(code, reason)
	}
}

// recheck authenticates the request's credential again, bypassing the
// request's memo (the subscription outlives it). UNAUTHENTICATED.
func (s *Service) recheck(ctx context.Context, propertyID uuid.UUID) error {
	c, ok := credentialFrom(ctx)
	if !ok {
		return errAuthRequired
	}
	p, err := s.auth.authenticate(ctx, &credentialOf{auth: s.auth, raw: c.raw, residentOnly: c.residentOnly})
	if err == nil && p.PropertyID != propertyID {
		err = model.ErrBadToken
	}
	return err
}

// subscribeUnit authorises a subscription to a unit (the resident's own, or
// the unit a manager names) and runs its loop until ctx ends: onUnit for a
// change to the unit (coalesced), onChange for a change request. It checks
// the credential again whenever it may have changed (see credentialWatch)
// and ends the subscription through the transport when it was revoked or
// expired. A handler that returns false ends it; then done runs.
// UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND, UNAVAILABLE (no live updates
// on this server).
func (s *Service) subscribeUnit(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID,
	onUnit func(model.Unit) bool, onChange func(model.Unit, uuid.UUID) bool, done func()) error {
	if s.events == nil {
		return model.Errorf(model.CodeUnavailable, "live updates are not available on this server")
	}
	u, err := s.Unit(ctx, propertyID, unitID)
	if err != nil {
		return err
	}
	p, err := principal(ctx) // checked by Unit
	if err != nil {
		return err
	}
	sub, err := s.events.subscribe(u.ID, onChange != nil)
	if err != nil {
		return err
	}
	go func() {
		defer done()
		defer s.events.unsubscribe(sub)
		// Watched from here, and checked once more: a change between the
		// subscription's own check and the watch is not missed.
		w := s.auth.watch(p)
		defer func() { s.auth.unwatch(w) }()
		if !s.credentialHolds(ctx, propertyID) {
			return
		}
		check := time.NewTimer(s.nextCheck(p))
		defer check.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.changed:
			case <-check.C:
			case <-sub.behind:
				endSubscription(ctx, model.CodeUnavailable, "the subscriber fell too far behind; subscribe again")
				return
			case <-sub.interrupted:
				endSubscription(ctx, model.CodeUnavailable, errEventsDown.Message)
				return
			case <-sub.dirty:
				if onUnit != nil && !onUnit(u) {
					return
				}
				continue
			case id := <-sub.changes:
				if onChange != nil && !onChange(u, id) {
					return
				}
				continue
			}
			s.auth.unwatch(w)
			w = s.auth.watch(p)
			if !s.credentialHolds(ctx, propertyID) {
				return
			}
			check.Reset(s.nextCheck(p))
		}
	}()
	return nil
}

// credentialHolds checks a subscription's credential again and, when it
// no longer holds, ends the subscription through its transport.
func (s *Service) credentialHolds(ctx context.Context, propertyID uuid.UUID) bool {
	err := s.recheck(ctx, propertyID)
	switch {
	case err == nil:
		return true
	case model.ErrorCode(err) == model.CodeUnauthenticated:
		endSubscription(ctx, model.CodeUnauthenticated, "the credential was revoked or has expired")
	case ctx.Err() == nil:
		// An outage is not a revocation: a credential that cannot be
		// checked ends the subscription as interrupted (the client
		// subscribes again later), since a revocation could not be seen
		// meanwhile.
		endSubscription(ctx, model.CodeUnavailable, "the credential cannot be checked right now; subscribe again shortly")
	}
	return false
}

// nextCheck is how long a subscription of p waits for its next check when
// its watch does not fire: until its token expires (just past, so that
// the check sees it expired), at most credentialRecheck.
func (s *Service) nextCheck(p model.Principal) time.Duration {
	next := credentialRecheck
	if !p.Expires.IsZero() {
		next = min(next, p.Expires.Sub(s.auth.now())+time.Millisecond)
	}
	return max(next, 0)
}

// eventUnread ends a subscription whose event could not be read (the
// database unreachable or failing) as interrupted: dropping the event would
// leave the subscriber with a state the last event no longer matches, and
// subscribing again reads it afresh.
func eventUnread(ctx context.Context) {
	if ctx.Err() == nil {
		endSubscription(ctx, model.CodeUnavailable, "an event could not be read; subscribe again shortly")
	}
}

// send hands v to a subscription's stream unless ctx ends first.
func send[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// UnitUpdates streams a unit's state after every change to it, its users
// or its devices (bursts coalesced; the last event has the final state).
// Errors as subscribeUnit.
func (s *Service) UnitUpdates(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID) (<-chan *model.Unit, error) {
	out := make(chan *model.Unit)
	err := s.subscribeUnit(ctx, propertyID, unitID, func(u model.Unit) bool {
		fresh, err := s.store.UnitByID(ctx, model.UnitScope(u.PropertyID, u.ID), u.ID)
		if err != nil { // a unit gone ends it; one that cannot be read, too (see eventUnread)
			if model.ErrorCode(err) != model.CodeNotFound {
				eventUnread(ctx)
			}
			return false
		}
		return send(ctx, out, &fresh)
	}, nil, func() { close(out) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ChangeUpdates streams the unit's change requests as they are written,
// published, applied or failed. Errors as subscribeUnit.
func (s *Service) ChangeUpdates(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID) (<-chan *model.ChangeRequest, error) {
	out := make(chan *model.ChangeRequest)
	err := s.subscribeUnit(ctx, propertyID, unitID, nil, func(u model.Unit, id uuid.UUID) bool {
		c, err := s.store.ChangeRequestByID(ctx, model.UnitScope(u.PropertyID, u.ID), id)
		if model.ErrorCode(err) == model.CodeNotFound {
			return ctx.Err() == nil // pruned or gone with its unit: nothing to tell
		}
		if err != nil {
			eventUnread(ctx)
			return false
		}
		return send(ctx, out, &c)
	}, func() { close(out) })
	if err != nil {
		return nil, err
	}
	return out, nil
}
