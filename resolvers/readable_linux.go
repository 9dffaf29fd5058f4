package resolvers

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// waitReadable waits until conn has something to read (or has ended),
// without a buffer: an idle WebSocket connection holds no read buffer, only
// its reader's small stack. It peeks one byte without consuming it; the
// runtime's poller parks the goroutine meanwhile. False: the connection
// ended or its read deadline passed.
func waitReadable(conn net.Conn) bool {
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
