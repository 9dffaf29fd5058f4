package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func admitted(l Limiter, key string, tries int) int {
	n := 0
	for range tries {
		if l.Allow(context.Background(), key, 1).Allowed {
			n++
		}
	}
	return n
}

func TestMemoryExactBurstAndRefill(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := NewMemory(Config{Burst: 100, PerSecond: 80}, clock.now, 0)
	if n := admitted(m, "property:a", 150); n != 100 {
		t.Fatalf("burst admitted %d, want exactly 100", n)
	}
	for second := 1; second <= 5; second++ {
		clock.advance(time.Second)
		if n := admitted(m, "property:a", 150); n != 80 {
			t.Fatalf("second %d admitted %d, want exactly 80", second, n)
		}
	}
	if n := admitted(m, "property:b", 150); n != 100 {
		t.Fatalf("another property admitted %d, want its own 100", n)
	}
	// Refusals consume nothing: after 1/80 s exactly one call fits again.
	clock.advance(time.Second / 80)
	d := m.Allow(context.Background(), "property:a", 1)
	if !d.Allowed || d.Remaining != 0 || d.Wait <= 0 {
		t.Fatalf("decision after 1/80 s = %+v", d)
	}
	refused := m.Allow(context.Background(), "property:a", 1)
	if refused.Allowed || refused.Wait <= 0 || refused.Wait > time.Second/80 {
		t.Fatalf("refused decision = %+v", refused)
	}
}

func TestMemoryChargesAtomically(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := NewMemory(Config{Burst: 100, PerSecond: 80}, clock.now, 0)
	if d := m.Allow(context.Background(), "k", 150); d.Allowed {
		t.Fatal("a charge above the burst was admitted")
	}
	if d := m.Allow(context.Background(), "k", 60); !d.Allowed || d.Remaining != 40 {
		t.Fatalf("60 of 100 = %+v", d)
	}
	if d := m.Allow(context.Background(), "k", 41); d.Allowed || d.Remaining != 40 {
		t.Fatalf("41 of 40 = %+v (a refusal must consume nothing)", d)
	}
	if d := m.Allow(context.Background(), "k", 40); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("40 of 40 = %+v", d)
	}
}

func TestMemoryBoundedUnderInventedKeys(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	const maxKeys = 50_000
	m := NewMemory(Config{Burst: 100, PerSecond: 80}, clock.now, maxKeys)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 1_000_000 {
		m.Allow(context.Background(), fmt.Sprintf("property:%d", i), 1)
		if i%1000 == 0 {
			clock.advance(time.Millisecond)
		}
	}
	if n := m.Len(); n > maxKeys {
		t.Fatalf("%d buckets held after 10^6 invented keys, cap %d", n, maxKeys)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB", grown>>20)
	}
	t.Logf("after 10^6 invented keys: %d buckets, heap %d MiB", m.Len(), after.HeapAlloc>>20)
}

func TestPeekDoesNotCharge(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := NewMemory(Config{Burst: 2, PerSecond: 1}, clock.now, 0)
	for range 5 {
		if !m.Peek("ip").Allowed {
			t.Fatal("peek refused a fresh bucket")
		}
	}
	admitted(m, "ip", 2)
	if d := m.Peek("ip"); d.Allowed || d.Wait <= 0 {
		t.Fatalf("peek of an empty bucket = %+v", d)
	}
}

func TestTakeAndGiveBack(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := NewMemory(Config{Burst: 3, PerSecond: 0.1}, func() time.Time { return now }, 0)
	for range 10 { // given back every time: never spent
		giveBack, _, ok := m.Take("ip")
		if !ok {
			t.Fatal("refused a call the bucket holds")
		}
		now = now.Add(100 * time.Millisecond)
		giveBack()
	}
	for i := range 3 {
		if _, _, ok := m.Take("ip"); !ok {
			t.Fatalf("take %d refused", i)
		}
	}
	if _, wait, ok := m.Take("ip"); ok || wait <= 0 {
		t.Fatalf("an empty bucket gave a call (wait %v)", wait)
	}
}

// Every spelling uuid.Parse accepts names one bucket, spelled as
// uuid.UUID.String spells it.
func TestBucketKey(t *testing.T) {
	id := uuid.New()
	for _, spelling := range []string{id.String(), strings.ToUpper(id.String()), "{" + id.String() + "}", "urn:uuid:" + id.String()} {
		parsed, err := uuid.Parse(spelling)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := bucketKey("property:", parsed), "property:"+id.String(); got != want {
			t.Fatalf("%s: %q, want %q", spelling, got, want)
		}
	}
}

// The RateLimit fields are as the draft spells them, the policy's shared
// between responses.
func TestSetHeaders(t *testing.T) {
	h := http.Header{}
	setHeaders(h, "property", Decision{Allowed: false, Burst: 100, Remaining: 0, Wait: 1500 * time.Millisecond})
	want := http.Header{"Ratelimit-Policy": {`"property";q=100;w=1`}, "Ratelimit": {`"property";r=0;t=2`}, "Retry-After": {"2"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("%v, want %v", h, want)
	}
	h2 := http.Header{}
	setHeaders(h2, failedLoginsPolicy, Decision{Allowed: true, Burst: 10, Remaining: 9})
	if got := h2.Get("Ratelimit-Policy") + " " + h2.Get("Ratelimit"); got != `"failed-logins";q=10;w=60 "failed-logins";r=9;t=0` {
		t.Fatal(got)
	}
}
