// Command portalctl is the resident portal's admin tool. It talks to
// PostgreSQL directly (DATABASE_URL, SECRET_KEY) and mints properties, units
// with their portal secrets, unit users, devices, manager keys and a demo.
//
// Success prints one JSON object on stdout and exits 0; failure prints
// {"error": "..."} on stderr and exits 1, or 2 for a usage error.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/residentportal/bff/cmd/internal/version"
)

func main() {
	if version.Asked(os.Args[1:]) {
		fmt.Println(version.String("portalctl"))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
