package radius

import (
	"net/netip"
	"sync"
	"time"
)

// replyKey names a request as RFC 5080 §2.2.2 does: source, identifier
// and authenticator. It holds no pointer, nor does replyEntry, so the
// collector does not scan the cache however many it holds.
type replyKey struct {
	addr [16]byte
	port uint16
	id   byte
	auth [16]byte
}

func keyOf(from netip.AddrPort, id byte, auth [16]byte) replyKey {
	return replyKey{addr: from.Addr().As16(), port: from.Port(), id: id, auth: auth}
}

type replyEntry struct {
	at  int64  // when, in nanoseconds since the cache was made
	off uint64 // where its reply starts among all the bytes written to the slab
	n   uint16 // the reply's length; 0 while it is being decided
}

// replyCache keeps each reply for a while, so a retransmission gets the
// same reply without being decided again; bounded in entries (the oldest
// go first) and in reply bytes (a ring: a reply written over is gone, and
// its retransmission is decided again).
type replyCache struct {
	ttl   time.Duration
	max   int
	epoch time.Time
	mu    sync.Mutex
	items map[replyKey]replyEntry
	// order is the keys in insertion order, for sweeping and eviction: a
	// ring of max keys from head, n of them in use (made once: a request
	// adds no garbage to it). A key forgotten and started again is in it
	// twice; the older copy may evict the newer entry early, which only
	// costs deciding a retransmission again.
	order   []replyKey
	head, n int
	// slab holds the replies, written one after the other around it;
	// written counts every byte written (a reply never wraps: the end too
	// short for one is skipped).
	slab    []byte
	written uint64
}

func newReplyCache(ttl time.Duration, max, slabBytes int) *replyCache {
	return &replyCache{ttl: ttl, max: max, epoch: time.Now(), items: make(map[replyKey]replyEntry, max),
		order: make([]replyKey, max), slab: make([]byte, slabBytes)}
}

func (c *replyCache) since(now time.Time) int64 { return int64(now.Sub(c.epoch)) }

// get returns a copy of the reply for k and whether k was seen within the
// ttl (a nil reply: still being decided, or its bytes written over — then
// seen is false and it is decided again).
func (c *replyCache) get(k replyKey, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok || c.since(now)-e.at > int64(c.ttl) {
		return nil, false
	}
	if e.n == 0 {
		return nil, true
	}
	if c.overwritten(e) {
		return nil, false
	}
	at := e.off % uint64(len(c.slab))
	return append([]byte(nil), c.slab[at:at+uint64(e.n)]...), true
}

// start records that k is being decided; false when it already is (or
// was, within the ttl): another reader took the same packet first.
func (c *replyCache) start(k replyKey, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok && c.since(now)-e.at <= int64(c.ttl) && !c.overwritten(e) {
		return false
	}
	if c.n == c.max {
		c.pop()
	}
	c.items[k] = replyEntry{at: c.since(now)}
	c.order[(c.head+c.n)%c.max] = k
	c.n++
	return true
}

// overwritten reports whether e's reply bytes were written over (its
// retransmission is decided again, as if never seen).
func (c *replyCache) overwritten(e replyEntry) bool {
	return e.n > 0 && c.written-e.off > uint64(len(c.slab))
}

// finish records k's reply.
func (c *replyCache) finish(k replyKey, reply []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; !ok || len(reply) == 0 || len(reply) > len(c.slab) || len(reply) > 1<<16-1 {
		return
	}
	size := uint64(len(c.slab))
	if at := c.written % size; at+uint64(len(reply)) > size {
		c.written += size - at // skip the end: a reply is in one piece
	}
	at := c.written % size
	copy(c.slab[at:], reply)
	c.items[k] = replyEntry{at: c.since(now), off: c.written, n: uint16(len(reply))}
	c.written += uint64(len(reply))
}

// forget drops k (it was not answered: a retransmission is decided anew).
func (c *replyCache) forget(k replyKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, k)
}

// pop drops the oldest key and its entry.
func (c *replyCache) pop() {
	delete(c.items, c.order[c.head])
	c.head = (c.head + 1) % c.max
	c.n--
}

// sweep drops the entries past the ttl.
func (c *replyCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.n > 0 {
		e, ok := c.items[c.order[c.head]]
		if ok && c.since(now)-e.at <= int64(c.ttl) {
			return
		}
		c.pop()
	}
}
