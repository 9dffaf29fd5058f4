package dbtest

import (
	"strings"
	"sync"
	"testing"

	"github.com/residentportal/bff/graph/model"
)

// Small helpers every storage, service and transport test uses.

// Ptr returns a pointer to v (for the pointer fields of inputs and updates).
func Ptr[T any](v T) *T { return &v }

// Must fails tb on a non-nil error and otherwise returns the value:
// dbtest.Must[model.Unit](t)(store.UnitByID(…)).
func Must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// WantCode fails tb unless err carries the domain code want ("" for no error).
func WantCode(tb testing.TB, err error, want model.Code) {
	tb.Helper()
	if got := model.ErrorCode(err); got != want {
		tb.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

// Buffer is text that goroutines write and a test reads while they run: a
// server's log, a process's output.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
