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
	order []replyKey // insertion order, for sweeping and eviction
}

func newReplyCache(ttl time.Duration, max int) *replyCache {
	return &replyCache{ttl: ttl, max: max, items: map[replyKey]replyEntry{}}
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
	for len(c.order) >= c.max {
		delete(c.items, c.order[0])
		c.order = c.order[1:]
	}
	c.items[k] = replyEntry{at: now}
	c.order = append(c.order, k)
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

// sweep drops the entries past the ttl.
func (c *replyCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for ; i < len(c.order); i++ {
		k := c.order[i]
		e, ok := c.items[k]
		if ok && now.Sub(e.at) <= c.ttl {
			break
		}
		if ok {
			delete(c.items, k)
		}
	}
	c.order = append(c.order[:0:0], c.order[i:]...)
}
