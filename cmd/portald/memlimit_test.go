package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// sink keeps the test's garbage from being optimised away.
var sink []byte

// With 100 MB alive under the default 36 MiB soft limit, the limit follows
// the live heap, so a gigabyte of garbage costs a few collections rather
// than one after another (without followLiveHeap this test counts
// hundreds).
func TestMemoryLimitFollowsTheLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(defaultGCPercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(defaultMemoryLimit))
	stop := followLiveHeap(defaultMemoryLimit, defaultGCPercent)
	defer stop()

	live := make([][]byte, 100)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	deadline := time.Now().Add(30 * time.Second)
	for debug.SetMemoryLimit(-1) < 150<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the limit is %d MiB with 100 MiB alive, want at least 150", debug.SetMemoryLimit(-1)>>20)
		}
		runtime.GC()
		<-time.After(10 * time.Millisecond) // the finalizer goroutine runs
	}
	if p := debug.SetGCPercent(heldGCPercent); p != heldGCPercent {
		t.Fatalf("GOGC is %d with 100 MiB alive, want %d", p, heldGCPercent)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 1 << 14 { // 1 GiB in 64 KiB pieces
		sink = make([]byte, 64<<10)
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(live)
	cycles := after.NumGC - before.NumGC
	t.Logf("limit %d MiB with 100 MiB alive; 1 GiB of garbage took %d collections", debug.SetMemoryLimit(-1)>>20, cycles)
	if cycles > 40 {
		t.Fatalf("%d collections for 1 GiB of garbage with 100 MiB alive: the collector runs back to back", cycles)
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		live, total, idle, objects uint64
		want                       int64
	}{
		{live: 5 << 20, total: 30 << 20, idle: 2 << 20, objects: 12 << 20, want: 36 << 20},      // requests: the base
		{live: 60 << 20, total: 150 << 20, idle: 0, objects: 80 << 20, want: 160 << 20},         // subscribers: 1.5 × 60 + 70
		{live: 60 << 20, total: 250 << 20, idle: 100 << 20, objects: 80 << 20, want: 160 << 20}, // free pages do not hold the limit up
		{live: 20 << 20, total: 20 << 20, idle: 30 << 20, objects: 20 << 20, want: 36 << 20},    // no negative overhead
	} {
		if got := memoryLimit(36<<20, c.live, c.total, c.idle, c.objects); got != c.want {
			t.Errorf("memoryLimit(%+v) = %d MiB, want %d", c, got>>20, c.want>>20)
		}
	}
}

// A burst that leaves 200 MiB of garbage in a process that then goes quiet is collected
// and its pages returned within a few intervals, without waiting for the
// runtime's two-minute collection.
func TestMemoryReturnsAfterABurst(t *testing.T) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	held := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64() + samples[1].Value.Uint64()
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection but returnAfterBursts's
	stop := returnAfterBursts(100*time.Millisecond, 16<<20)
	defer stop()
	for range 200 {
		sink = make([]byte, 1<<20)
	}
	sink = nil
	if h := held(); h < 150<<20 {
		t.Fatalf("the burst left %d MiB held, want at least 150 (the test measures nothing)", h>>20)
	}
	deadline := time.Now().Add(10 * time.Second)
	for held() > 100<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d MiB still held 10 s after the burst", held()>>20)
		}
		<-time.After(20 * time.Millisecond)
	}
}
