package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// followLiveHeap keeps the soft memory limit at no less than one and a half
// times the live heap plus what the runtime holds besides heap objects
// (goroutine stacks, spans' unused slots, metadata), re-reading both after
// every collection; base is the limit while the live set is small. The
// default limit is sized for a server answering requests, whose heap is
// mostly one request's garbage. A server holding thousands of
// subscriptions keeps far more alive: under a fixed 36 MiB limit the
// collector would run back to back (2,000 idle subscribers once kept both
// CPUs busy marking). Above base the collector behaves as with GOGC=50:
// idle subscribers make little garbage, and each is paid for in resident
// memory, so their headroom is kept small. Free pages the runtime has not
// yet returned are not counted, or the limit would hold up the memory it
// lets the process keep. It returns the function that stops following
// (the limit stays where it is).
func followLiveHeap(base int64) (stop func()) {
	var stopped atomic.Bool
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}}
	var after func()
	after = func() {
		if stopped.Load() {
			return
		}
		metrics.Read(samples)
		debug.SetMemoryLimit(memoryLimit(base, samples[0].Value.Uint64(), samples[1].Value.Uint64(),
			samples[2].Value.Uint64()+samples[3].Value.Uint64(), samples[4].Value.Uint64()))
		afterNextGC(after)
	}
	afterNextGC(after)
	return func() { stopped.Store(true) }
}

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
