//go:build !linux

package resolvers

import (
	"context"
	"net"
)

// waitReadable returns at once off Linux: the read that follows waits,
// holding a lent buffer while it does.
func waitReadable(net.Conn, bool) bool { return true }

// poller watches nothing off Linux: every connection keeps its reader
// goroutine.
type poller struct{}

func (*poller) add(context.Context, *wsConn) bool { return false }
func (*poller) rearm(*wsConn) bool                { return false }
func (*poller) remove(*wsConn)                    {}
