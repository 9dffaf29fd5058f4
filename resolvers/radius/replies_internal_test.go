package radius

import (
	"net/netip"
	"testing"
	"time"
)

// The cache keeps at most max entries, the oldest going first, and a
// sweep drops those past the ttl from the oldest on.
func TestReplyCacheRing(t *testing.T) {
	c := newReplyCache(time.Second, 3, 64)
	t0 := time.Now()
	key := func(i byte) replyKey { return keyOf(netip.MustParseAddrPort("127.0.0.1:1812"), i, [16]byte{}) }
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

// Replies live in a ring of bytes: one written over is gone (its
// retransmission is decided again), one that would not fit at the end
// starts again at the beginning, whole.
func TestReplyCacheSlab(t *testing.T) {
	c := newReplyCache(time.Minute, 10, 10)
	now := time.Now()
	key := func(i byte) replyKey { return keyOf(netip.MustParseAddrPort("[::1]:1812"), i, [16]byte{i}) }
	for i, reply := range []string{"aaaa", "bbbb", "cccc"} { // the third goes at 0, over the first
		c.start(key(byte(i)), now)
		c.finish(key(byte(i)), []byte(reply), now)
	}
	if r, seen := c.get(key(0), now); seen || r != nil {
		t.Fatalf("a reply written over: %q %v", r, seen)
	}
	if !c.start(key(0), now) {
		t.Fatal("a request whose reply was written over is not decided again")
	}
	for i, want := range []string{1: "bbbb", 2: "cccc"} {
		if i == 0 {
			continue
		}
		if r, seen := c.get(key(byte(i)), now); !seen || string(r) != want {
			t.Fatalf("%d: %q %v, want %q", i, r, seen, want)
		}
	}
	c.start(key(9), now)
	if r, seen := c.get(key(9), now); !seen || r != nil {
		t.Fatal("a request being decided is not in progress")
	}
}
