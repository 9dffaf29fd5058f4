// Package ratelimit is the one per-property rate limiter that guards both
// transports: token buckets of Burst calls refilled at PerSecond, in process
// (golang.org/x/time/rate, memory bounded however many keys clients invent)
// or shared by every replica in Redis (GCRA, go-redis/redis_rate) with a
// fallback to per-replica buckets while Redis is unreachable. It also limits
// failed logins per client IP, and charges REST calls (middleware driven by
// the route table) and GraphQL operations (a gqlgen operation interceptor).
package ratelimit

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Decision is the outcome of charging a bucket.
type Decision struct {
	Allowed bool
	// Burst is the bucket's size (the q of RateLimit-Policy).
	Burst int
	// Remaining is how many calls the bucket holds now (after the charge).
	Remaining int
	// Wait is how long until the charge (refused) or one more call
	// (allowed) would be admitted; zero when a call is admitted now.
	Wait time.Duration
}

// Limiter charges n calls to the bucket of key. A refused charge consumes
// nothing; a charge larger than the burst is always refused.
type Limiter interface {
	Allow(ctx context.Context, key string, n int) Decision
}

// Config is a bucket's shape.
type Config struct {
	Burst     int
	PerSecond float64
}

// Memory is an in-process Limiter. Buckets that are full again carry no
// state, so when the table reaches MaxKeys they are dropped; if it is still
// full, the least recently used bucket goes. Memory stays bounded however
// many property ids clients invent.
type Memory struct {
	cfg     Config
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// DefaultMaxKeys bounds the in-process bucket table.
const DefaultMaxKeys = 50_000

// NewMemory returns an in-process limiter; now is the clock (time.Now when
// nil), maxKeys bounds the table (DefaultMaxKeys when 0).
func NewMemory(cfg Config, now func() time.Time, maxKeys int) *Memory {
	if now == nil {
		now = time.Now
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Memory{cfg: cfg, now: now, maxKeys: maxKeys, buckets: map[string]*bucket{}}
}

// bucket returns key's bucket, made full when new. Called with mu held.
func (m *Memory) bucket(key string, now time.Time) *bucket {
	b, ok := m.buckets[key]
	if !ok {
		if len(m.buckets) >= m.maxKeys {
			m.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(m.cfg.PerSecond), m.cfg.Burst)}
		m.buckets[key] = b
	}
	b.used = now
	return b
}

// Take spends one call of key's bucket now, if it holds one, and returns
// a function that gives it back (ok false, and the wait, when empty).
func (m *Memory) Take(key string) (giveBack func(), wait time.Duration, ok bool) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.bucket(key, now).lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); !r.OK() || d > 0 {
		r.CancelAt(now)
		return nil, d, false
	}
	// Cancelled as of the time it was made: x/time/rate gives back a
	// reservation only before its time to act (it then discounts what
	// other reservations took since, at the refill rate).
	return func() { r.CancelAt(now) }, 0, true
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, n int) Decision {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.bucket(key, now)
	allowed := n <= m.cfg.Burst && b.lim.AllowN(now, n)
	tokens := b.lim.TokensAt(now)
	d := Decision{Allowed: allowed, Burst: m.cfg.Burst, Remaining: max(0, int(math.Floor(tokens)))}
	need := 1.0
	if !allowed {
		need = float64(n)
	}
	if tokens < need {
		d.Wait = time.Duration((need - tokens) / m.cfg.PerSecond * float64(time.Second))
	}
	return d
}

// evict makes room: it drops every bucket that is full again (they carry
// no state), and if that frees less than a tenth of the table, the least
// recently used buckets down to nine tenths. Sweeping a tenth at a time
// keeps the cost per new key constant. Called with mu held.
func (m *Memory) evict(now time.Time) {
	for k, b := range m.buckets {
		if b.lim.TokensAt(now) >= float64(m.cfg.Burst) {
			delete(m.buckets, k)
		}
	}
	target := m.maxKeys - m.maxKeys/10
	if len(m.buckets) <= target {
		return
	}
	type entry struct {
		key  string
		used time.Time
	}
	all := make([]entry, 0, len(m.buckets))
	for k, b := range m.buckets {
		all = append(all, entry{k, b.used})
	}
	slices.SortFunc(all, func(a, b entry) int { return a.used.Compare(b.used) })
	for _, e := range all[:len(all)-target] {
		delete(m.buckets, e.key)
	}
}

// Len is the number of buckets held (for tests and metrics).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}

// Peek reports the state of key's bucket without charging it: Allowed is
// true when one call would be admitted now.
func (m *Memory) Peek(key string) Decision {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[key]
	if !ok {
		return Decision{Allowed: true, Burst: m.cfg.Burst, Remaining: m.cfg.Burst}
	}
	tokens := b.lim.TokensAt(now)
	d := Decision{Allowed: tokens >= 1, Burst: m.cfg.Burst, Remaining: max(0, int(math.Floor(tokens)))}
	if tokens < 1 {
		d.Wait = time.Duration((1 - tokens) / m.cfg.PerSecond * float64(time.Second))
	}
	return d
}
