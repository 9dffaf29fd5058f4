package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/db"
)

// pruneBatch bounds one pruning statement: the rows one transaction
// deletes (and holds) at a time.
const pruneBatch = 1000

// startPruner deletes APPLIED and FAILED change requests completed more
// than retention ago (OUTBOX_RETENTION; 0 keeps them for ever): at start,
// then every hour, or every tenth of the retention when that is shorter.
// Every replica prunes; db.PruneChanges skips the rows another holds, so
// they share the work. It returns the function that stops it.
func startPruner(ctx context.Context, store *db.DB, retention time.Duration, log *slog.Logger, reg prometheus.Registerer) func() {
	pruned := prometheus.NewCounter(prometheus.CounterOpts{Name: "portal_outbox_pruned_total",
		Help: "APPLIED and FAILED change requests this replica deleted after OUTBOX_RETENTION."})
	reg.MustRegister(pruned)
	if retention == 0 {
		log.Info("outbox retention off (OUTBOX_RETENTION=off): completed change requests are kept")
		return func() {}
	}
	every := min(max(retention/10, 100*time.Millisecond), time.Hour)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			n, err := pruneOnce(ctx, store, time.Now().Add(-retention))
			pruned.Add(float64(n))
			if err != nil && ctx.Err() == nil {
				log.Warn("outbox retention: pruning failed; trying again later", "error", err, "pruned", n)
			} else if n > 0 {
				log.Info("outbox retention: pruned completed change requests", "count", n, "retention", retention.String())
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// pruneOnce deletes, batch by batch, every completed change request of
// before or earlier.
func pruneOnce(ctx context.Context, store *db.DB, before time.Time) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := store.PruneChanges(ctx, before, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
	return total, ctx.Err()
}
