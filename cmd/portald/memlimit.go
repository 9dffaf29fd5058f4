package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// followLiveHeap keeps the soft memory limit at no less than one and a half
// times the live heap plus what the runtime holds besides heap objects
// (goroutine stacks, spans' unused slots, metadata), re-reading both after
// every collection; base is the limit while the live set is small. The
// default limit is sized for a server answering requests, whose heap is
// mostly one request's garbage. A server holding thousands of
// subscriptions keeps far more alive: under a fixed 36 MiB limit the
// collector would run back to back (2,000 idle subscribers once kept both
// CPUs busy marking). Above base the collector runs as with GOGC=50
// (heldGCPercent; requests, when not 0, is the GOGC below base): idle
// subscribers make little garbage, and each is paid for in resident
// memory, so their headroom is kept small — and the runtime returns free
// pages to the system down to its goal, which GOGC=400 would put at five
// times the live heap, keeping what a burst of connections left behind.
// Free pages the runtime has not yet returned are not counted in the
// limit, or the limit would hold up the memory it lets the process keep.
// It returns the function that stops following (the limit stays where it
// is).
func followLiveHeap(base int64, requests int) (stop func()) {
	var stopped atomic.Bool
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}}
	percent := requests
	var after func()
	after = func() {
		if stopped.Load() {
			return
		}
		metrics.Read(samples)
		limit := memoryLimit(base, samples[0].Value.Uint64(), samples[1].Value.Uint64(),
			samples[2].Value.Uint64()+samples[3].Value.Uint64(), samples[4].Value.Uint64())
		debug.SetMemoryLimit(limit)
		if requests > 0 {
			pct := requests
			if limit > base {
				pct = heldGCPercent
			}
			if pct != percent {
				debug.SetGCPercent(pct)
				percent = pct
			}
		}
		afterNextGC(after)
	}
	afterNextGC(after)
	return func() { stopped.Store(true) }
}

// heldGCPercent is the collector's GOGC while the live heap is above the
// base limit (see followLiveHeap).
const heldGCPercent = 50

// memoryLimit is base, or one and a half times the live heap plus the
// runtime's memory outside heap objects and free pages (total less
// idle, which is free or released, less objects) when that is more.
func memoryLimit(base int64, live, total, idle, objects uint64) int64 {
	overhead := max(int64(total)-int64(idle)-int64(objects), 0)
	return max(base, int64(live)+int64(live)/2+overhead)
}

// sentinel is an object only the collector finds unreachable: its finalizer
// runs after the collection that found it so. (It holds a pointer, so the
// allocator never packs it with other objects.)
type sentinel struct{ _ *byte }

// afterNextGC runs f on the finalizer goroutine after the next collection.
func afterNextGC(f func()) {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { f() })
}

// returnAfterBursts gives memory back to the system once the process holds
// far more than its live heap (garbage and free pages) and has allocated
// little over the last interval: a burst — 10,000 WebSocket connections
// opened in seconds, a large export — leaves the heap at its peak, and a
// quiet server would not collect it for two minutes, nor return the pages
// for longer. Under load the allocations are many and it does nothing. It
// returns the function that stops it.
func returnAfterBursts(every time.Duration, slack uint64) (stop func()) {
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	t := time.NewTicker(every)
	done := make(chan struct{})
	go func() {
		metrics.Read(samples)
		last := samples[0].Value.Uint64()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(samples)
			allocs, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
			held := samples[2].Value.Uint64() + samples[3].Value.Uint64()
			if waste := held - min(held, live); waste > max(live/2, slack) && allocs-last < waste/4 {
				debug.FreeOSMemory()
				metrics.Read(samples)
				allocs = samples[0].Value.Uint64()
			}
			last = allocs
		}
	}()
	return func() { t.Stop(); close(done) }
}
