// Package disconnect delivers the change requests of properties whose
// access points ask portald over RADIUS (SPEC §9.5): for every online
// session a change affects, a Disconnect-Request to the access point
// holding it. The change request is APPLIED once every access point
// acknowledged (or no session was online), FAILED with the access points'
// answers (a Disconnect-NAK's Error-Cause, "no answer") otherwise.
//
// The outbox is the source of truth, as for the NATS relay, and each
// change request has one deliverer: a property with access points has its
// requests delivered here and never published to NATS (db.RelayChanges
// passes them over), so no consumer completes them too. A worker claims
// rows (PENDING → PUBLISHED) in a transaction and completes each once its
// access points answered; a replica that dies between the two leaves the
// row PUBLISHED, and any replica's worker puts it back to PENDING after
// RepublishAfter and delivers it again: at least once to the access point,
// never lost. Every replica may run a worker; rows one holds, another
// passes over.
package disconnect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/radius"
)

// Sender ends one session at its access point: nil when the access point
// acknowledged, the reason otherwise (radius.Disconnecter; its NAKError
// and ErrNoAnswer are told apart in the metrics).
type Sender interface {
	Disconnect(ctx context.Context, t model.DisconnectTarget) error
}

// Config shapes a worker; the zero value of a field takes its default.
type Config struct {
	// InFlight bounds the change requests being delivered at once
	// (default 256), Batch one claim (default 100).
	InFlight, Batch int
	// Sessions bounds the Disconnect-Requests one change request has in
	// flight at once (default 64).
	Sessions int
	// Poll is the safety-net interval when no NOTIFY comes (default 5 s).
	Poll time.Duration
	// Deliver bounds the delivery of one change request (default 20 s);
	// RepublishAfter is how long a claimed request may stay PUBLISHED
	// before any worker delivers it again (default 1 min, at least twice
	// Deliver).
	Deliver, RepublishAfter time.Duration
}

func (c Config) withDefaults() Config {
	if c.InFlight <= 0 {
		c.InFlight = 256
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Sessions <= 0 {
		c.Sessions = 64
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Deliver <= 0 {
		c.Deliver = 20 * time.Second
	}
	if c.RepublishAfter <= 0 {
		c.RepublishAfter = time.Minute
	}
	c.RepublishAfter = max(c.RepublishAfter, 2*c.Deliver)
	return c
}

// Worker delivers change requests as Disconnect-Requests.
type Worker struct {
	db   *db.DB
	send Sender
	cfg  Config
	log  *slog.Logger

	results   *prometheus.CounterVec
	latency   prometheus.Histogram
	completed *prometheus.CounterVec
	swept     time.Time
}

// New returns a worker over store that sends with send; its metrics are
// registered on reg when it is not nil.
func New(store *db.DB, send Sender, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Worker {
	w := &Worker{db: store, send: send, cfg: cfg.withDefaults(), log: log,
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_radius_disconnects_total",
			Help: "Disconnect-Requests by their outcome: ack, nak, no_answer, error."}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "portal_radius_disconnect_seconds",
			Help:    "From a Disconnect-Request's first sending to its answer.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_radius_changes_completed_total",
			Help: "Change requests delivered as Disconnect-Requests, by result (APPLIED, FAILED)."}, []string{"result"}),
	}
	for _, r := range []string{"ack", "nak", "no_answer", "error"} {
		w.results.WithLabelValues(r) // exposed at 0: rates and alerts read them from the start
	}
	for _, r := range []model.ChangeStatus{model.ChangeApplied, model.ChangeFailed} {
		w.completed.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(w.results, w.latency, w.completed)
	}
	return w
}

// Run delivers until ctx ends, woken by new change requests (NOTIFY) and
// polling slowly as a safety net; it returns once every delivery it began
// has ended.
func (w *Worker) Run(ctx context.Context) {
	wake := make(chan struct{}, 1)
	nudge := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.db.Listen(ctx, db.ChangesChannel, func(string) { nudge() }, func(up bool) {
			if up {
				nudge()
			}
		}, w.log)
	}()
	slots := make(chan struct{}, w.cfg.InFlight)
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		w.sweep(ctx)
		free := w.cfg.InFlight - len(slots)
		claimed, err := w.db.ClaimDisconnects(ctx, min(free, w.cfg.Batch))
		if err != nil && ctx.Err() == nil {
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			w.log.Warn("disconnect: change requests wait for the database", "error", err, "retry_in", backoff.String())
			sleep(ctx, backoff)
			continue
		}
		backoff = 0
		for _, d := range claimed {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done(); nudge() }()
				w.Deliver(ctx, d)
			}()
		}
		if len(claimed) > 0 && len(claimed) == min(free, w.cfg.Batch) {
			continue // there may be more
		}
		if len(slots) == cap(slots) { // full: wait for one to end
			slots <- struct{}{}
			<-slots
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(min(w.cfg.Poll, w.cfg.RepublishAfter/10)): // the sweep's turn comes too
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// sweep puts back claimed requests left PUBLISHED past RepublishAfter (a
// replica died mid-way), at most every tenth of it.
func (w *Worker) sweep(ctx context.Context) {
	if time.Since(w.swept) < w.cfg.RepublishAfter/10 {
		return
	}
	w.swept = time.Now()
	n, err := w.db.RepublishDisconnects(ctx, w.cfg.RepublishAfter, w.cfg.Batch)
	if err != nil {
		w.log.Warn("disconnect: could not look for abandoned deliveries", "error", err)
	} else if n > 0 {
		w.log.Warn("disconnect: change requests a replica left mid-way are delivered again", "count", n)
	}
}

// Deliver sends d's Disconnect-Requests, at most Sessions at once, and
// records the change request's result. A result that cannot be recorded
// leaves the request PUBLISHED: it is delivered again after RepublishAfter.
func (w *Worker) Deliver(ctx context.Context, d model.Disconnect) {
	dctx, cancel := context.WithTimeout(ctx, w.cfg.Deliver)
	defer cancel()
	failures := make([]string, len(d.Targets))
	acked := make([]bool, len(d.Targets))
	sem := make(chan struct{}, w.cfg.Sessions)
	var wg sync.WaitGroup
	for i, t := range d.Targets {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			err := w.send.Disconnect(dctx, t)
			o := outcome(err)
			w.results.WithLabelValues(o).Inc()
			if o == "ack" || o == "nak" { // answered
				w.latency.Observe(time.Since(start).Seconds())
			}
			if err != nil {
				failures[i] = fmt.Sprintf("%s (%s): %v", t.NAS.Name, t.MAC, err)
			} else {
				acked[i] = true
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: another replica delivers it again
	}
	result, detail := model.ChangeApplied, fmt.Sprintf("%d session(s) disconnected", len(d.Targets))
	if len(d.Targets) == 0 {
		detail = "no session was online"
	}
	if msgs := nonEmpty(failures); len(msgs) > 0 {
		result, detail = model.ChangeFailed, strings.Join(msgs, "; ")
		if len(detail) > model.MaxChangeDetail {
			detail = detail[:model.MaxChangeDetail-3] + "..."
		}
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	// The sessions the access points ended are over now: the page stops
	// showing their devices online at once, not at the access point's
	// Accounting-Stop.
	var ended []model.Session
	for i, t := range d.Targets {
		if acked[i] {
			ended = append(ended, t.Session)
		}
	}
	if err := w.db.EndDisconnected(rctx, ended); err != nil {
		w.log.Warn("disconnect: ended sessions could not be marked offline; their Accounting-Stop will", "error", err)
	}
	if _, _, err := w.db.CompleteChangeRequest(rctx, d.Change.PropertyID, d.Change.ID, result, &detail); err != nil &&
		model.ErrorCode(err) != model.CodeConflict {
		w.log.Warn("disconnect: a change request's result could not be recorded; it is delivered again later",
			"change_request", d.Change.ID, "error", err)
		return
	}
	w.completed.WithLabelValues(string(result)).Inc()
}

func nonEmpty(s []string) []string {
	out := s[:0:0]
	for _, m := range s {
		if m != "" {
			out = append(out, m)
		}
	}
	return out
}

// outcome labels a Disconnect's result.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ack"
	case errors.As(err, new(radius.NAKError)):
		return "nak"
	case errors.Is(err, radius.ErrNoAnswer):
		return "no_answer"
	}
	return "error"
}
