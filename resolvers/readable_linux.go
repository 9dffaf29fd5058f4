package resolvers

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// waitReadable waits until conn has something to read (or has ended),
// without a buffer: a connection the poller does not watch holds no read
// buffer while idle, only its reader's small stack. It peeks one byte
// without consuming it; the runtime's poller parks the goroutine
// meanwhile. With drained (the last read found the socket empty), anything
// that came since has woken the poller, so it parks first and peeks only
// when woken: one system call fewer for every message. False: the
// connection ended or its read deadline passed.
func waitReadable(conn net.Conn, drained bool) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true // the read that follows waits instead, with a lent buffer
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var b [1]byte
	ended := false
	err = rc.Read(func(fd uintptr) bool {
		if drained {
			drained = false
			return false // park until the poller says readable
		}
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			return false // nothing yet: park until the poller says readable
		case err != nil || n == 0:
			ended = true // the error or the end is read again by the reader
		}
		return true
	})
	return err == nil && !ended
}

// poller watches idle WebSocket connections for something to read with
// one epoll instance and one goroutine for all of them: an idle connection
// holds no goroutine at all. A connection is armed once (EPOLLONESHOT,
// level-triggered): when it becomes readable the poller starts a goroutine
// that reads what came (serveReadable), which arms it again; data left in
// the socket fires again at once, so nothing is missed.
type poller struct {
	once sync.Once
	epfd int
	wake int // an eventfd that ends the loop
	err  error
	// mu guards the epoll instance's life (read: in use; write: closing
	// it) and conns.
	mu    sync.RWMutex
	conns map[uint64]*wsConn
	next  uint64
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// start opens the epoll instance and runs the loop until stop ends.
func (p *poller) start(stop context.Context) error {
	p.once.Do(func() {
		if p.epfd, p.err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); p.err != nil {
			return
		}
		if p.wake, p.err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); p.err != nil {
			_ = unix.Close(p.epfd)
			return
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN} // id 0: the wake
		if p.err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, p.wake, &ev); p.err != nil {
			_ = unix.Close(p.epfd)
			_ = unix.Close(p.wake)
			return
		}
		p.conns = map[uint64]*wsConn{}
		go p.loop()
		context.AfterFunc(stop, func() {
			var one [8]byte
			binary.LittleEndian.PutUint64(one[:], 1)
			_, _ = unix.Write(p.wake, one[:])
		})
	})
	return p.err
}

func setID(ev *unix.EpollEvent, id uint64) {
	ev.Fd, ev.Pad = int32(uint32(id)), int32(uint32(id>>32))
}

func idOf(ev *unix.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }

func (p *poller) loop() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for i := range events[:n] {
			id := idOf(&events[i])
			if id == 0 {
				p.shutdown()
				return
			}
			p.mu.RLock()
			c := p.conns[id]
			p.mu.RUnlock()
			if c != nil {
				go c.serveReadable()
			}
		}
	}
}

// shutdown closes the epoll instance; the connections it watched are
// closed by the server's shutdown (closeWith 1001).
func (p *poller) shutdown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = unix.Close(p.epfd)
	_ = unix.Close(p.wake)
	p.epfd = -1
}

// add arms c (false: c cannot be watched, and keeps a reader goroutine).
func (p *poller) add(stop context.Context, c *wsConn) bool {
	sc, ok := c.conn.(syscall.Conn)
	if !ok || p.start(stop) != nil {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var added bool
	_ = rc.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.epfd < 0 {
			return
		}
		p.next++
		id := p.next
		ev := unix.EpollEvent{Events: pollEvents}
		setID(&ev, id)
		c.pmu.Lock()
		defer c.pmu.Unlock()
		c.fd, c.pid, c.polled = int(fd), id, true
		p.conns[id] = c
		if unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev) != nil {
			delete(p.conns, id)
			c.polled = false
			return
		}
		added = true
	})
	return added
}

// rearm watches c again after its reader took what came; false: c is no
// longer watched (it is finishing).
func (p *poller) rearm(c *wsConn) bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if !c.polled {
		return false
	}
	ev := unix.EpollEvent{Events: pollEvents}
	setID(&ev, c.pid)
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.epfd >= 0 && unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev) == nil
}

// remove stops watching c, before its socket is closed (so its descriptor
// is never re-armed once another connection may have it).
func (p *poller) remove(c *wsConn) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if !c.polled {
		return
	}
	c.polled = false
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c.pid)
	if p.epfd >= 0 {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
}
