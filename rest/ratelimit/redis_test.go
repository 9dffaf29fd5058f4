package ratelimit_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/residentportal/bff/rest/ratelimit"
	"github.com/residentportal/bff/rest/ratelimit/redistest"
)

func TestRedisSharedAndFallback(t *testing.T) {
	rs := redistest.Start(t)
	newClient := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: rs.Addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: 1})
		t.Cleanup(func() { c.Close() })
		return c
	}
	var degraded atomic.Int32
	cfg := ratelimit.Config{Burst: 100, PerSecond: 80}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := ratelimit.NewRedis(newClient(), cfg, log, func(d bool) {
		if d {
			degraded.Store(1)
		} else {
			degraded.Store(0)
		}
	})
	b := ratelimit.NewRedis(newClient(), cfg, log, nil)
	ctx := context.Background()
	// Two replicas share one bucket: 100 in all, whichever answers.
	start := time.Now()
	admitted := 0
	for i := range 150 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if l.Allow(ctx, "property:shared", 1).Allowed {
			admitted++
		}
	}
	refill := int(time.Since(start).Seconds()*80) + 1
	if admitted < 100 || admitted > 100+refill {
		t.Fatalf("two replicas admitted %d, want 100 (+%d refilled)", admitted, refill)
	}
	if d := a.Allow(ctx, "property:big", 101); d.Allowed {
		t.Fatal("a charge above the burst was admitted")
	}
	if d := a.Allow(ctx, "property:big", 100); !d.Allowed {
		t.Fatal("a refused charge consumed tokens")
	}

	// Redis goes away: calls are still answered, from local buckets.
	rs.Stop()
	d := a.Allow(ctx, "property:other", 1)
	if !d.Allowed || degraded.Load() != 1 {
		t.Fatalf("without Redis: %+v, degraded=%d", d, degraded.Load())
	}
	for range 200 {
		a.Allow(ctx, "property:other", 1)
	}
	if d := a.Allow(ctx, "property:other", 1); d.Allowed {
		t.Fatal("the fallback buckets do not limit")
	}

	// Redis comes back: the limiter returns to the shared buckets by itself.
	rs.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for degraded.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the limiter did not return to Redis")
		}
		a.Allow(ctx, "property:again", 1)
		time.Sleep(20 * time.Millisecond)
	}
	if d := a.Allow(ctx, "property:after", 100); !d.Allowed {
		t.Fatalf("a fresh shared bucket refused its burst: %+v", d)
	}
	if d := b.Allow(ctx, "property:after", 50); d.Allowed {
		t.Fatal("the buckets are not shared again: replica b sees a full bucket")
	}
}
