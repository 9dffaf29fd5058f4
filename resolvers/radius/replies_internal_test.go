package radius

import (
	"net/netip"
	"testing"
	"time"
)

// The cache keeps at most max entries, the oldest going first, and a
// sweep drops those past the ttl from the oldest on.
func TestReplyCacheRing(t *testing.T) {
	c := newReplyCache(time.Second, 3)
	t0 := time.Now()
	key := func(i byte) replyKey { return replyKey{from: netip.MustParseAddrPort("127.0.0.1:1812"), id: i} }
	for i := range byte(5) {
		if !c.start(key(i), t0.Add(time.Duration(i)*100*time.Millisecond)) {
			t.Fatalf("%d: started already", i)
		}
		c.finish(key(i), []byte{i}, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	if c.start(key(4), t0.Add(time.Second)) {
		t.Fatal("a key in the cache started again")
	}
	for i := range byte(5) {
		_, seen := c.get(key(i), t0.Add(500*time.Millisecond))
		if want := i >= 2; seen != want {
			t.Fatalf("%d: seen %v, want %v (3 kept, the oldest evicted)", i, seen, want)
		}
	}
	c.sweep(t0.Add(1350 * time.Millisecond)) // past the ttl of 2 and 3 (at 200 and 300 ms)
	if len(c.items) != 1 || c.n != 1 {
		t.Fatalf("after the sweep: %d items, %d keys", len(c.items), c.n)
	}
	if r, seen := c.get(key(4), t0.Add(1350*time.Millisecond)); !seen || r[0] != 4 {
		t.Fatal("the newest entry was swept")
	}
	c.forget(key(4))
	c.sweep(t0) // a forgotten key at the head goes with the next sweep
	if c.n != 0 {
		t.Fatalf("%d keys left", c.n)
	}
}
