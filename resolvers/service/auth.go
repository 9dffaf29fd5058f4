package service

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// AuthStore is what authentication reads.
type AuthStore interface {
	UnitAuthByIDs(ctx context.Context, ids []uuid.UUID) ([]model.UnitAuth, error)
	ManagerKeyByKey(ctx context.Context, key string) (model.ManagerKey, error)
	// AuthEpoch reads a count that moves on with every change a check
	// depends on (see WatchEpoch).
	AuthEpoch(ctx context.Context) (int64, error)
}

// maxCachedEntries bounds the revocation cache, and maxVerifiedTokens the
// tokens whose signature was checked (≈ 250 bytes each: a client that
// logs in over and over mints tokens as fast as its rate limit allows, so
// this one stays small); past either, that cache is emptied (it refills on
// demand).
const (
	maxCachedEntries  = 100_000
	maxVerifiedTokens = 10_000
)

// Authenticator turns a unit token or a manager key into a Principal.
//
// Tokens are signed, so checking one needs no database; what can revoke a
// token before it expires (a portal-access reset, a disabled unit, a portal
// switched off, a revoked manager key) is cached in memory per unit and per
// key, and every replica drops a cached entry when PostgreSQL notifies it of
// a change (see db.ListenAuthChanges). While that notification connection is
// down nothing is cached: every check reads the database, so a missed notice
// can never keep a revoked token alive.
type Authenticator struct {
	keys  *model.Keyring
	store AuthStore
	now   func() time.Time

	mu        sync.Mutex
	listening bool
	// epoch moves on with every invalidation, so that a read that raced
	// with a notice does not put a stale entry back into the cache.
	epoch    uint64
	units    map[uuid.UUID]model.UnitAuth
	managers map[string]model.ManagerKey
	// verified holds tokens whose signature has been checked, so that a
	// token's HMAC is computed once, not on every request. Only tokens that
	// verified are kept (a forgery never enters), expiry is checked on every
	// use, and the keys tokens are verified with do not change while the
	// process runs; revocation is the units cache's business, as before.
	verified map[string]model.UnitToken
	// watches are the credential watches waiting for a notice, by what
	// their credential's check read (see watch).
	watches map[watchKey]map[*credentialWatch]struct{}
	// away is signalled when the revocation listener goes (see
	// WatchEpoch).
	away chan struct{}
}

// NewAuthenticator returns an Authenticator that caches nothing until
// ListenerUp(true) says revocation notices are arriving.
func NewAuthenticator(keys *model.Keyring, store AuthStore, now func() time.Time) *Authenticator {
	return &Authenticator{keys: keys, store: store, now: now,
		units: map[uuid.UUID]model.UnitAuth{}, managers: map[string]model.ManagerKey{},
		verified: map[string]model.UnitToken{}, watches: map[watchKey]map[*credentialWatch]struct{}{}, away: make(chan struct{}, 1)}
}

// parseToken is Keyring.ParseToken, each token's signature checked once.
func (a *Authenticator) parseToken(s string) (model.UnitToken, error) {
	now := a.now()
	a.mu.Lock()
	t, ok := a.verified[s]
	a.mu.Unlock()
	if ok {
		if !now.Before(t.ExpiresAt) {
			return model.UnitToken{}, model.ErrBadToken
		}
		return t, nil
	}
	t, err := a.keys.ParseToken(s, now)
	if err != nil {
		return t, err
	}
	a.mu.Lock()
	if len(a.verified) >= maxVerifiedTokens {
		clear(a.verified)
	}
	a.verified[s] = t
	a.mu.Unlock()
	return t, nil
}

// ListenerUp is called by the revocation listener: caching is on only while
// it is connected, and the cache starts empty after every (re)connect.
func (a *Authenticator) ListenerUp(up bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listening = up
	// Notices may have been missed, or checks go to the database from now
	// on: nothing cached stands, and every watcher checks again.
	a.invalidateAll()
	if !up {
		select {
		case a.away <- struct{}{}:
		default:
		}
	}
}

// invalidateAll drops everything cached (and any read under way: see
// remember) and fires every watch. Called with mu held.
func (a *Authenticator) invalidateAll() {
	a.epoch++
	clear(a.units)
	clear(a.managers)
	for _, set := range a.watches {
		for w := range set {
			a.fire(w)
		}
	}
}

// authEpochPoll is how often WatchEpoch reads the auth epoch while
// revocation notices are away.
const authEpochPoll = 250 * time.Millisecond

// WatchEpoch stands in for the revocation notices while they are away,
// until ctx ends; run it beside the revocation listener. Every
// authEpochPoll it reads the auth epoch (one row, moved on by every change
// a check depends on) and, when it moved or cannot be read, has every
// watched credential checked again: so a live subscription sees a
// revocation within a poll, and an idle one costs the database nothing,
// where each would otherwise check against the database four times a
// second. Its first read after the notices go fires every watch too: a
// check made between the notices going and that read could have missed a
// change the epoch already counts.
func (a *Authenticator) WatchEpoch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.away:
		}
		var last int64
		known := false
		for !a.Caching() {
			readCtx, cancel := context.WithTimeout(ctx, authEpochPoll)
			n, err := a.store.AuthEpoch(readCtx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil || !known || n != last {
				a.mu.Lock()
				a.invalidateAll()
				a.mu.Unlock()
			}
			last, known = n, err == nil
			select {
			case <-ctx.Done():
				return
			case <-time.After(authEpochPoll):
			}
		}
	}
}

// AuthChanged drops what is cached of a unit, a property's units or a
// manager key (kind "unit", "property" or "key"); the revocation listener
// calls it for every notice.
func (a *Authenticator) AuthChanged(kind string, id uuid.UUID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.epoch++
	for w := range a.watches[watchKey{kind, id}] {
		a.fire(w)
	}
	switch kind {
	case "unit":
		delete(a.units, id)
	case "property":
		for k, u := range a.units {
			if u.PropertyID == id {
				delete(a.units, k)
			}
		}
		for k, m := range a.managers {
			if m.PropertyID == id {
				delete(a.managers, k)
			}
		}
	case "key":
		for k, m := range a.managers {
			if m.ID == id {
				delete(a.managers, k)
			}
		}
	}
}

// Authenticate checks a credential as sent in the Authorization header (a
// bare token, "Bearer <token>", or a manager key). Errors: UNAUTHENTICATED.
func (a *Authenticator) Authenticate(ctx context.Context, credential string) (model.Principal, error) {
	return a.authenticate(ctx, &Credential{auth: a, raw: credential})
}

// bare strips "Bearer " and blanks from an Authorization header.
func bare(credential string) string {
	credential = strings.TrimSpace(credential)
	if len(credential) > 7 && strings.EqualFold(credential[:7], "bearer ") {
		credential = strings.TrimSpace(credential[7:])
	}
	return credential
}

func (a *Authenticator) authenticate(ctx context.Context, c *Credential) (model.Principal, error) {
	credential := bare(c.raw)
	if credential == "" {
		return model.Principal{}, errAuthRequired
	}
	if strings.HasPrefix(credential, model.ManagerKeyPrefix) {
		return a.manager(ctx, credential, c.fresh)
	}
	t, err := c.token()
	if err != nil {
		return model.Principal{}, err
	}
	u, err := a.unit(ctx, t.UnitID, c.fresh)
	if err != nil {
		return model.Principal{}, err
	}
	// SECURITY: a reset or disable moved the generation on; a disabled unit or
	// a closed portal admits no resident.
	if u.PropertyID != t.PropertyID || u.TokenGeneration != t.Generation || u.Status != model.UnitEnabled || !u.PortalAllowed {
		return model.Principal{}, model.ErrBadToken
	}
	return model.Principal{Kind: model.Resident, PropertyID: t.PropertyID, UnitID: t.UnitID, Expires: t.ExpiresAt}, nil
}

var errAuthRequired = model.Errorf(model.CodeUnauthenticated, "authentication required")

func (a *Authenticator) unit(ctx context.Context, id uuid.UUID, fresh bool) (model.UnitAuth, error) {
	a.mu.Lock()
	u, ok := a.units[id]
	ok = ok && !fresh
	epoch, caching := a.epoch, a.listening
	a.mu.Unlock()
	if ok {
		return u, nil
	}
	found, err := a.store.UnitAuthByIDs(ctx, []uuid.UUID{id})
	if err != nil {
		return u, err
	}
	if len(found) == 0 {
		return u, model.ErrBadToken
	}
	u = found[0]
	if caching {
		remember(a, a.units, id, u, epoch)
	}
	return u, nil
}

// remember caches v under k unless a notice arrived since epoch was read
// (the value may be stale) or the listener went down.
func remember[K comparable, V any](a *Authenticator, cache map[K]V, k K, v V, epoch uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.epoch != epoch || !a.listening {
		return
	}
	if len(cache) >= maxCachedEntries {
		clear(cache)
	}
	cache[k] = v
}

func (a *Authenticator) manager(ctx context.Context, key string, fresh bool) (model.Principal, error) {
	digest := string(model.ManagerKeyDigest(key))
	a.mu.Lock()
	k, ok := a.managers[digest]
	ok = ok && !fresh
	epoch, caching := a.epoch, a.listening
	a.mu.Unlock()
	if !ok {
		var err error
		k, err = a.store.ManagerKeyByKey(ctx, key)
		if model.ErrorCode(err) == model.CodeNotFound {
			return model.Principal{}, errBadKey
		}
		if err != nil {
			return model.Principal{}, err
		}
		if caching {
			remember(a, a.managers, digest, k, epoch)
		}
	}
	return model.Principal{Kind: model.Manager, PropertyID: k.PropertyID, KeyID: k.ID}, nil
}

var errBadKey = model.Errorf(model.CodeUnauthenticated, "invalid or revoked manager key")

// errKeyOnREST refuses a valid manager key on the resident-only REST API.
var errKeyOnREST = model.Errorf(model.CodeUnauthenticated,
	"the REST API is for residents: send a unit token (manager keys work on the GraphQL API)")

// Credential is a request's Authorization header, authenticated at most
// once and only when an operation needs it (public routes ignore the
// header); a token's signature is checked at most once too.
type Credential struct {
	auth         *Authenticator
	raw          string
	residentOnly bool
	// fresh reads what can revoke the credential from the database, not
	// the cache (see Session.Current).
	fresh     bool
	once      sync.Once
	principal model.Principal
	err       error

	tokenOnce sync.Once
	parsed    model.UnitToken
	tokenErr  error
}

// token is the credential's unit token, its signature and expiry checked.
func (c *Credential) token() (model.UnitToken, error) {
	c.tokenOnce.Do(func() { c.parsed, c.tokenErr = c.auth.parseToken(bare(c.raw)) })
	return c.parsed, c.tokenErr
}

// Recognised reports, without a database round trip, whether the request's
// credential is a unit token signed for propertyID that has not expired, or
// (outside residentOnly requests) a manager key of propertyID that this
// replica has verified and holds in its cache. The rate limiter charges
// calls without a recognised credential to their client first, so bogus
// credentials cannot spend a property's budget.
func Recognised(ctx context.Context, propertyID uuid.UUID) bool {
	return RecognisedAs(ctx, propertyID) != NotRecognised
}

// Recognition is who a recognised credential speaks for.
type Recognition int

const (
	NotRecognised Recognition = iota
	RecognisedResident
	RecognisedManager
)

// RecognisedAs is Recognised, telling a resident's token from a manager
// key: the rate limiter gives a property's manager keys a bucket of their
// own, so that delivery and management reads never spend the residents'.
func RecognisedAs(ctx context.Context, propertyID uuid.UUID) Recognition {
	c, ok := credentialFrom(ctx)
	if !ok {
		return NotRecognised
	}
	raw := bare(c.raw)
	if strings.HasPrefix(raw, model.ManagerKeyPrefix) {
		if !c.residentOnly && c.auth.knownManager(raw, propertyID) {
			return RecognisedManager
		}
		return NotRecognised
	}
	if t, err := c.token(); err == nil && t.PropertyID == propertyID {
		return RecognisedResident
	}
	return NotRecognised
}

// knownManager reports whether key is a cached, unrevoked manager key of
// propertyID.
func (a *Authenticator) knownManager(key string, propertyID uuid.UUID) bool {
	digest := string(model.ManagerKeyDigest(key))
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.managers[digest]
	return ok && k.PropertyID == propertyID
}

type credentialKey struct{}

// WithCredential returns ctx carrying the raw credential of a request. With
// residentOnly, a manager key is refused (the REST layer is resident-only).
func (a *Authenticator) WithCredential(ctx context.Context, raw string, residentOnly bool) context.Context {
	return context.WithValue(ctx, credentialKey{}, &Credential{auth: a, raw: raw, residentOnly: residentOnly})
}

// credentialFrom is the credential of ctx: one attached by WithCredential,
// else the one its request's holder carries (see WithHolder).
func credentialFrom(ctx context.Context) (*Credential, bool) {
	if c, ok := ctx.Value(credentialKey{}).(*Credential); ok {
		return c, true
	}
	if h, ok := ctx.Value(holderKey{}).(CredentialHolder); ok {
		if c := h.Credential(); c != nil && c.auth != nil {
			return c, true
		}
	}
	return nil, false
}

// CredentialHolder is a transport's state of one request that carries the
// request's credential among other things (the GraphQL endpoint keeps its
// loaders there too): one context value for both, so a request pays for
// one. The service reads the credential from it; it never reads the rest.
type CredentialHolder interface {
	// Credential is the request's credential (nil: none), filled in by
	// Authenticator.Attach.
	Credential() *Credential
}

type holderKey struct{}

// WithHolder returns ctx carrying h (see CredentialHolder).
func WithHolder(ctx context.Context, h CredentialHolder) context.Context {
	return context.WithValue(ctx, holderKey{}, h)
}

// Holder is the CredentialHolder of ctx (nil: none).
func Holder(ctx context.Context) CredentialHolder {
	h, _ := ctx.Value(holderKey{}).(CredentialHolder)
	return h
}

// Attach makes c the credential raw (an Authorization header, a
// connection_init's), authenticated by a on demand, at most once.
func (a *Authenticator) Attach(c *Credential, raw string) { c.auth, c.raw = a, raw }

// Raw is the credential as the client sent it.
func (c *Credential) Raw() string { return c.raw }

// principal authenticates the request's credential (once per request).
func principal(ctx context.Context) (model.Principal, error) {
	c, ok := credentialFrom(ctx)
	if !ok {
		return model.Principal{}, errAuthRequired
	}
	c.once.Do(func() {
		c.principal, c.err = c.auth.authenticate(ctx, c)
		// SECURITY: manager keys are for the GraphQL API only.
		if c.err == nil && c.residentOnly && c.principal.Kind != model.Resident {
			c.principal, c.err = model.Principal{}, errKeyOnREST
		}
	})
	return c.principal, c.err
}

// Caching reports whether revocation notices are arriving (and so whether
// token checks are served from memory).
func (a *Authenticator) Caching() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.listening
}

// Principal authenticates the request's credential (once per request) and
// returns the caller. UNAUTHENTICATED. Transports call it to check the
// credential before they validate input (the vendor's order of checks).
func (s *Service) Principal(ctx context.Context) (model.Principal, error) { return principal(ctx) }

// Authorize checks that the request's credential is valid for propertyID
// (UNAUTHENTICATED otherwise). Transports call it before they validate
// anything else of the request.
func (s *Service) Authorize(ctx context.Context, propertyID uuid.UUID) error {
	_, _, err := s.access(ctx, propertyID)
	return err
}

// watchKey names what a credential's check read: a unit, a property or a
// manager key (the kinds of AuthChanged).
type watchKey struct {
	kind string
	id   uuid.UUID
}

// credentialWatch calls its onFire (in a goroutine of its own) when a
// notice may have changed what a credential's last check read, or when the
// revocation listener came or went. A live connection holds one instead of
// checking its credential on a timer: idle connections cost nothing, not
// even a waiting goroutine, and the check still runs within a notice's
// delivery of a revocation.
type credentialWatch struct {
	keys   [2]watchKey
	onFire func()
	fired  bool // under the Authenticator's mu
}

// watch returns a watch over what checking p reads: its unit or manager
// key, and its property; onFire runs once, when it fires. Register the
// watch before the check it guards, so that no notice falls between them.
// Stop it with unwatch.
func (a *Authenticator) watch(p model.Principal, onFire func()) *credentialWatch {
	w := &credentialWatch{onFire: onFire}
	w.keys[0] = watchKey{"unit", p.UnitID}
	if p.Kind == model.Manager {
		w.keys[0] = watchKey{"key", p.KeyID}
	}
	w.keys[1] = watchKey{"property", p.PropertyID}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range w.keys {
		set := a.watches[k]
		if set == nil {
			set = map[*credentialWatch]struct{}{}
			a.watches[k] = set
		}
		set[w] = struct{}{}
	}
	return w
}

// unwatch stops w (fired or not); its onFire does not run if it had not
// fired.
func (a *Authenticator) unwatch(w *credentialWatch) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !w.fired {
		w.onFire = nil
		a.fire(w)
	}
}

// fire forgets w and runs its onFire. Called with mu held.
func (a *Authenticator) fire(w *credentialWatch) {
	w.fired = true
	if w.onFire != nil {
		go w.onFire()
	}
	for _, k := range w.keys {
		delete(a.watches[k], w)
		if len(a.watches[k]) == 0 {
			delete(a.watches, k)
		}
	}
}
