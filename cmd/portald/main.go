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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr, hooks{}); err != nil {
		fmt.Fprintf(os.Stderr, `{"level":"ERROR","msg":"portald stopped","error":%q}`+"\n", err.Error())
		os.Exit(1)
	}
}
