package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// followLiveHeap keeps the soft memory limit at no less than twice the live
// heap plus what the runtime holds besides the heap (goroutine stacks above
// all), re-reading both after every collection; base is the limit while the
// live set is small. The default limit is sized for a server answering
// requests, whose heap is mostly one request's garbage. A server holding
// thousands of subscriptions keeps far more alive (≈ 66 KiB each, mostly
// stacks): under a fixed 36 MiB limit the collector would run back to back,
// and 2,000 idle subscribers kept both CPUs busy marking. Above base the
// collector behaves as with GOGC=100. It returns the function that stops
// following (the limit stays where it is).
func followLiveHeap(base int64) (stop func()) {
	var stopped atomic.Bool
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	var after func()
	after = func() {
		if stopped.Load() {
			return
		}
		metrics.Read(samples)
		debug.SetMemoryLimit(memoryLimit(base, samples[0].Value.Uint64(), samples[1].Value.Uint64(),
			samples[2].Value.Uint64(), samples[3].Value.Uint64()))
		afterNextGC(after)
	}
	afterNextGC(after)
	return func() { stopped.Store(true) }
}

// memoryLimit is base, or twice the live heap plus the runtime's memory
// outside heap objects (mapped, not released) when that is more.
func memoryLimit(base int64, live, total, released, objects uint64) int64 {
	overhead := max(int64(total)-int64(released)-int64(objects), 0)
	return max(base, 2*int64(live)+overhead)
}

// sentinel is an object only the collector finds unreachable: its finalizer
// runs after the collection that found it so. (It holds a pointer, so the
// allocator never packs it with other objects.)
type sentinel struct{ _ *byte }

// afterNextGC runs f on the finalizer goroutine after the next collection.
func afterNextGC(f func()) {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { f() })
}
