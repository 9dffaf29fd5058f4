package radius

import (
	"net/netip"
	"sync"
	"time"
)

// replyKey names a request as RFC 5080 §2.2.2 does: source, identifier
// and authenticator.
type replyKey struct {
	from netip.AddrPort
	id   byte
	auth [16]byte
}

type replyEntry struct {
	reply []byte // nil while it is being decided
	at    time.Time
}

// replyCache keeps each reply for a while, so a retransmission gets the
// same reply without being decided again; bounded in entries (the oldest
// go first).
type replyCache struct {
	ttl   time.Duration
	max   int
	mu    sync.Mutex
	items map[replyKey]replyEntry
	// order is the keys in insertion order, for sweeping and eviction: a
	// ring of max keys from head, n of them in use (made once: a request
	// adds no garbage to it). A key forgotten and started again is in it
	// twice; the older copy may evict the newer entry early, which only
	// costs deciding a retransmission again.
	order   []replyKey
	head, n int
}

func newReplyCache(ttl time.Duration, max int) *replyCache {
	return &replyCache{ttl: ttl, max: max, items: make(map[replyKey]replyEntry, max), order: make([]replyKey, max)}
}

// get returns the reply for k and whether k was seen within the ttl (a nil
// reply: still being decided).
func (c *replyCache) get(k replyKey, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok || now.Sub(e.at) > c.ttl {
		return nil, false
	}
	return e.reply, true
}

// start records that k is being decided; false when it already is (or
// was, within the ttl): another reader took the same packet first.
func (c *replyCache) start(k replyKey, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok && now.Sub(e.at) <= c.ttl {
		return false
	}
	if c.n == c.max {
		c.pop()
	}
	c.items[k] = replyEntry{at: now}
	c.order[(c.head+c.n)%c.max] = k
	c.n++
	return true
}

// finish records k's reply.
func (c *replyCache) finish(k replyKey, reply []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok {
		c.items[k] = replyEntry{reply: reply, at: now}
	}
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
		if ok && now.Sub(e.at) <= c.ttl {
			return
		}
		c.pop()
	}
}
