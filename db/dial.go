package db

import (
	"net"
	"time"
)

// Deadlines that make an unreachable database fail requests in about two
// seconds instead of holding them for the whole request timeout: a
// connection attempt (TCP, TLS and startup) gives up after connectTimeout
// unless DATABASE_URL sets connect_timeout, and data sent on a connection
// that the network no longer acknowledges (a black-holed server) fails the
// connection after userTimeout (TCP_USER_TIMEOUT); idle pooled connections
// are probed by TCP keep-alives.
const (
	connectTimeout = 2 * time.Second
	userTimeout    = 2 * time.Second
)

func dialer() *net.Dialer {
	return &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: time.Second, Count: 3},
		Control:         setUserTimeout(userTimeout),
	}
}
