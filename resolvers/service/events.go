package service

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
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
	// watchers are told of every change to a unit (not of session
	// reports) and of the connection's comings and goings (the service's
	// in-memory tables).
	onUnit []func(uuid.UUID)
	onNAS  []func(uuid.UUID)
	onUp   []func(bool)
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

// subscriber is one subscription's inbox. It holds no goroutine: news
// calls wake, which runs the subscription's work until the inbox is empty
// (see liveSubscription).
type subscriber struct {
	unit uuid.UUID
	// wantChanges: the subscription takes change requests.
	wantChanges bool
	wake        func()

	mu sync.Mutex
	// dirty holds at most one mark: a burst of changes to the unit is
	// coalesced into one read of its final state.
	dirty bool
	// changes holds the ids of change requests written or moved on.
	changes []uuid.UUID
	// behind: changes overflowed. interrupted: the notice connection was
	// lost, so events may be missed; the subscription ends and its client
	// subscribes again (graphql-ws clients retry by themselves).
	behind, interrupted bool
}

// Notice takes one notification payload ("u:<unit>", "s:<unit>",
// "c:<change>:<unit>", "n:<property>"). A session report ("s") is news to
// the unit's subscribers like any change ("u"), but not to the watchers: it
// changes no access decision. "n" tells of a property's access points (see
// WatchAccessPoints).
func (e *Events) Notice(payload string) {
	kind, rest, _ := strings.Cut(payload, ":")
	if kind == "n" {
		if property, err := uuid.Parse(rest); err == nil {
			e.accessPointsChanged(property)
		}
		return
	}
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
	if kind == "s" {
		kind = "u"
	} else if kind == "u" {
		e.unitChanged(unit)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.units[unit] {
		s.mu.Lock()
		switch {
		case kind == "u":
			s.dirty = true
		case !s.wantChanges:
			s.mu.Unlock()
			continue
		case len(s.changes) < changeQueue:
			s.changes = append(s.changes, change)
		default:
			s.behind = true
		}
		s.mu.Unlock()
		s.wake()
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
	for _, f := range e.onUp {
		f(up)
	}
	if up {
		return
	}
	for _, subs := range e.units {
		for s := range subs {
			s.mu.Lock()
			s.interrupted = true
			s.mu.Unlock()
			s.wake()
		}
	}
}

// unitChanged tells the watchers of a change to unit.
func (e *Events) unitChanged(unit uuid.UUID) {
	e.mu.Lock()
	watchers := e.onUnit
	e.mu.Unlock()
	for _, f := range watchers {
		f(unit)
	}
}

// accessPointsChanged tells the watchers of a change to property's
// access points.
func (e *Events) accessPointsChanged(property uuid.UUID) {
	e.mu.Lock()
	watchers := e.onNAS
	e.mu.Unlock()
	for _, f := range watchers {
		f(property)
	}
}

// WatchAccessPoints registers a watcher of changes to access points (one
// added, removed or given a new secret, or their property's SSIDs or device
// cap changed) and of the notice connection (up false: notices may be
// missed until it is back): both quick, taking no lock of the fan-out's.
func (e *Events) WatchAccessPoints(changed func(property uuid.UUID), up func(bool)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onNAS = append(e.onNAS, changed)
	e.onUp = append(e.onUp, up)
}

// watch registers a watcher of unit changes and of the connection (see
// onUnit): quick, and taking no lock of the fan-out's (the connection's
// watcher is called under it).
func (e *Events) watch(unit func(uuid.UUID), up func(bool)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onUnit = append(e.onUnit, unit)
	e.onUp = append(e.onUp, up)
}

func (e *Events) subscribe(s *subscriber) error {
	unit := s.unit
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return errEventsDown
	}
	if e.units[unit] == nil {
		e.units[unit] = map[*subscriber]struct{}{}
	}
	e.units[unit][s] = struct{}{}
	return nil
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

// A live connection's session checks its credential again whenever a
// revocation notice may have changed what its last check read, when its
// token expires, and at least every credentialRecheck (see Session).
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

// liveSubscription runs one subscription's work when its inbox has news,
// in a goroutine that exists only while there is work: an idle
// subscription costs its inbox and nothing else.
type liveSubscription struct {
	svc     *Service
	ctx     context.Context
	session *Session
	// Only the unit's identity is kept: each event reads the rest afresh.
	propertyID, unitID uuid.UUID
	sub                *subscriber
	onUnit             func(model.Unit) bool
	onChange           func(model.Unit, uuid.UUID) bool
	done               func()

	mu   sync.Mutex
	stop func() bool // unregisters the wake on ctx's end (nil until set)

	running  atomic.Bool
	finished atomic.Bool
}

// wake runs the subscription's work unless it is running already (then
// the run in progress finds the news before it stops).
func (l *liveSubscription) wake() {
	if !l.finished.Load() && l.running.CompareAndSwap(false, true) {
		go l.run()
	}
}

// run empties the inbox, then stops; news that came meanwhile starts it
// again.
func (l *liveSubscription) run() {
	for {
		if !l.step() {
			l.finish()
			return
		}
		l.running.Store(false)
		if !l.pending() || !l.running.CompareAndSwap(false, true) {
			return
		}
	}
}

func (l *liveSubscription) pending() bool {
	s := l.sub
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirty || len(s.changes) > 0 || s.behind || s.interrupted || l.ctx.Err() != nil
}

// step handles what the inbox holds; false ends the subscription.
func (l *liveSubscription) step() bool {
	s := l.sub
	s.mu.Lock()
	dirty, changes, behind, interrupted := s.dirty, s.changes, s.behind, s.interrupted
	s.dirty, s.changes = false, nil
	s.mu.Unlock()
	switch {
	case l.ctx.Err() != nil:
		return false
	case interrupted:
		endSubscription(l.ctx, model.CodeUnavailable, errEventsDown.Message)
		return false
	case behind:
		endSubscription(l.ctx, model.CodeUnavailable, "the subscriber fell too far behind; subscribe again")
		return false
	case !dirty && len(changes) == 0:
		return true
	}
	// SECURITY: the credential is read from the database before anything
	// is sent: an event's notice may overtake the notice of a revocation
	// committed before it (they arrive on different connections), and the
	// cache would still hold the credential then.
	if err := l.session.Current(l.ctx); err != nil {
		return false // the session ended the connection
	}
	unit := model.Unit{ID: l.unitID, PropertyID: l.propertyID}
	if dirty && l.onUnit != nil && !l.onUnit(unit) {
		return false
	}
	for _, id := range changes {
		if l.onChange != nil && !l.onChange(unit, id) {
			return false
		}
	}
	return true
}

func (l *liveSubscription) finish() {
	if l.finished.Swap(true) {
		return
	}
	l.mu.Lock()
	stop := l.stop
	l.mu.Unlock()
	if stop != nil { // nil: ctx ended as the wake was registered, which ran it
		stop()
	}
	l.svc.events.unsubscribe(l.sub)
	l.done()
}

// subscribeUnit authorises a subscription to a unit (the resident's own, or
// the unit a manager names) and runs it until ctx ends: onUnit for a change
// to the unit (coalesced), onChange for a change request. A handler that
// returns false ends it; then done runs. The live connection's session
// watches the credential; each event checks it again first.
// UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND, UNAVAILABLE (no live updates
// on this server, or not a live connection).
func (s *Service) subscribeUnit(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID,
	onUnit func(model.Unit) bool, onChange func(model.Unit, uuid.UUID) bool, done func()) error {
	if s.events == nil {
		return model.Errorf(model.CodeUnavailable, "live updates are not available on this server")
	}
	u, err := s.Unit(ctx, propertyID, unitID)
	if err != nil {
		return err
	}
	ss := sessionFrom(ctx)
	if ss == nil {
		return model.Errorf(model.CodeUnavailable, "subscriptions run over WebSocket or Server-Sent Events")
	}
	l := &liveSubscription{svc: s, ctx: ctx, session: ss, propertyID: u.PropertyID, unitID: u.ID, onUnit: onUnit, onChange: onChange, done: done}
	l.sub = &subscriber{unit: u.ID, wantChanges: onChange != nil, wake: l.wake}
	l.mu.Lock()
	l.stop = context.AfterFunc(ctx, l.wake)
	l.mu.Unlock()
	if err := s.events.subscribe(l.sub); err != nil {
		l.finished.Store(true)
		l.stop()
		return err
	}
	if l.finished.Load() { // ctx ended before the subscription was in place
		s.events.unsubscribe(l.sub)
	}
	if l, ok := ctx.Value(liveKey{}).(Live); ok {
		l.Started()
	}
	return nil
}

// Live is how a streaming transport takes a subscription's events without
// a goroutine waiting on the subscription's channel: told that the
// subscription is in place, then, each time the service has put an event
// (or the end) on the channel, asked to read it (through its executor)
// and write it before Pull returns. Without one in the context (SSE), the
// transport's own loop reads the channel.
type Live interface {
	Started()
	Pull()
}

type liveKey struct{}

// WithLive returns ctx carrying the transport's Live for one subscription.
func WithLive(ctx context.Context, l Live) context.Context {
	return context.WithValue(ctx, liveKey{}, l)
}

// pullFrom is the Live's Pull of ctx (nil without one).
func pullFrom(ctx context.Context) func() {
	if l, ok := ctx.Value(liveKey{}).(Live); ok {
		return l.Pull
	}
	return nil
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

// deliver hands v to a subscription's stream unless ctx ends first: on a
// WebSocket connection the transport takes it and writes it at once (see
// pullFrom); an SSE stream's own loop reads it.
func deliver[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
	case <-ctx.Done():
		return false
	}
	if pull := pullFrom(ctx); pull != nil {
		pull()
	}
	return ctx.Err() == nil
}

// closeStream ends a subscription's stream.
func closeStream[T any](ctx context.Context, out chan T) func() {
	return func() {
		close(out)
		if pull := pullFrom(ctx); pull != nil {
			pull()
		}
	}
}

// UnitUpdates streams a unit's state after every change to it, its users
// or its devices (bursts coalesced; the last event has the final state).
// Errors as subscribeUnit.
func (s *Service) UnitUpdates(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID) (<-chan *model.Unit, error) {
	out := make(chan *model.Unit, 1)
	err := s.subscribeUnit(ctx, propertyID, unitID, func(u model.Unit) bool {
		fresh, err := s.store.UnitByID(ctx, model.UnitScope(u.PropertyID, u.ID), u.ID)
		if err != nil { // a unit gone ends it; one that cannot be read, too (see eventUnread)
			if model.ErrorCode(err) != model.CodeNotFound {
				eventUnread(ctx)
			}
			return false
		}
		return deliver(ctx, out, &fresh)
	}, nil, closeStream(ctx, out))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ChangeUpdates streams the unit's change requests as they are written,
// published, applied or failed. Errors as subscribeUnit.
func (s *Service) ChangeUpdates(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID) (<-chan *model.ChangeRequest, error) {
	out := make(chan *model.ChangeRequest, 1)
	err := s.subscribeUnit(ctx, propertyID, unitID, nil, func(u model.Unit, id uuid.UUID) bool {
		c, err := s.store.ChangeRequestByID(ctx, model.UnitScope(u.PropertyID, u.ID), id)
		if model.ErrorCode(err) == model.CodeNotFound {
			return ctx.Err() == nil // pruned or gone with its unit: nothing to tell
		}
		if err != nil {
			eventUnread(ctx)
			return false
		}
		return deliver(ctx, out, &c)
	}, closeStream(ctx, out))
	if err != nil {
		return nil, err
	}
	return out, nil
}
