package ratelimit

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter whose buckets live in Redis (GCRA), so that every
// replica shares them and the limit holds for the fleet. While Redis is
// unreachable it answers from per-replica in-memory buckets, logs the
// degradation at most once per LogEvery, reports it through degraded, and
// tries Redis again after RetryAfter.
type Redis struct {
	limiter  *redis_rate.Limiter
	limit    redis_rate.Limit
	burst    int
	fallback *Memory
	log      *slog.Logger
	degraded func(bool)
	now      func() time.Time

	mu        sync.Mutex
	downUntil time.Time
	loggedAt  time.Time
}

// Redis fallback timing.
const (
	RetryAfter = time.Second
	LogEvery   = 30 * time.Second
	// redisTimeout bounds one Redis call so a black-holed Redis cannot
	// stall requests.
	redisTimeout = 250 * time.Millisecond
)

// NewRedis returns a Redis-backed limiter over client. degraded (may be
// nil) is told when the limiter falls back to local buckets and when it
// returns to Redis.
func NewRedis(client redis.UniversalClient, cfg Config, log *slog.Logger, degraded func(bool)) *Redis {
	if degraded == nil {
		degraded = func(bool) {}
	}
	// redis_rate counts whole events per period: express the rate per
	// 1000 s so that fractional rates keep their precision.
	return &Redis{
		limiter:  redis_rate.NewLimiter(client),
		limit:    redis_rate.Limit{Rate: int(math.Round(cfg.PerSecond * 1000)), Period: 1000 * time.Second, Burst: cfg.Burst},
		burst:    cfg.Burst,
		fallback: NewMemory(cfg, nil, 0),
		log:      log,
		degraded: degraded,
		now:      time.Now,
	}
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, n int) Decision {
	r.mu.Lock()
	down := r.now().Before(r.downUntil)
	r.mu.Unlock()
	if !down {
		ctx, cancel := context.WithTimeout(ctx, redisTimeout)
		res, err := r.limiter.AllowN(ctx, key, r.limit, n)
		cancel()
		if err == nil {
			r.up()
			d := Decision{Allowed: res.Allowed >= n && n > 0, Burst: r.burst, Remaining: res.Remaining}
			if !d.Allowed && res.RetryAfter > 0 {
				d.Wait = res.RetryAfter
			} else if d.Allowed && res.Remaining < 1 {
				d.Wait = time.Duration(float64(time.Second) * 1000 / float64(r.limit.Rate))
			}
			return d
		}
		r.fail(err)
	}
	return r.fallback.Allow(ctx, key, n)
}

func (r *Redis) up() {
	r.mu.Lock()
	was := !r.downUntil.IsZero()
	r.downUntil = time.Time{}
	r.mu.Unlock()
	if was {
		r.log.Info("rate limiter: Redis is back; buckets are shared again")
		r.degraded(false)
	}
}

func (r *Redis) fail(err error) {
	now := r.now()
	r.mu.Lock()
	first := r.downUntil.IsZero()
	r.downUntil = now.Add(RetryAfter)
	logIt := now.Sub(r.loggedAt) >= LogEvery
	if logIt {
		r.loggedAt = now
	}
	r.mu.Unlock()
	if first {
		r.degraded(true)
	}
	if logIt {
		r.log.Warn("rate limiter: Redis unreachable; using per-replica buckets", "error", err.Error())
	}
}
