// Command portald is the resident portal server: the GraphQL API, the REST
// compatibility layer, probes on the public port (LISTEN_ADDR) and
// Prometheus metrics on METRICS_ADDR. Configuration comes from the
// environment (see the README); SIGTERM shuts it down gracefully.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/residentportal/bff/cmd/internal/version"
)

// Garbage collector defaults, unless the environment sets GOGC or
// GOMEMLIMIT: collect when the heap has grown fourfold rather than twofold
// (a request's garbage is most of the heap, so this halves the collections)
// but sooner as it nears 36 MiB, which keeps the process at about 60 MB
// resident under load (BENCHMARKS.md; 28–30 MB of it are the binary's own
// pages). The limit rises with the live heap (followLiveHeap), so a server
// holding many subscriptions is not collected back to back. Setting
// GOMEMLIMIT (a target for the collector, not a cap) replaces all of this.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 36 << 20
)

func main() {
	if version.Asked(os.Args[1:]) {
		fmt.Println(version.String("portald"))
		return
	}
	requests := 0 // GOGC set: the collector's percentage is left alone
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
		requests = defaultGCPercent
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
		followLiveHeap(defaultMemoryLimit, requests)
		returnAfterBursts(5*time.Second, 16<<20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr, hooks{}); err != nil {
		fmt.Fprintf(os.Stderr, `{"level":"ERROR","msg":"portald stopped","error":%q}`+"\n", err.Error())
		os.Exit(1)
	}
}
