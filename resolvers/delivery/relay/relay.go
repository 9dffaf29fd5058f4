// Package relay publishes the change-request outbox to NATS JetStream, so
// that changes reach the Wi-Fi side (SPEC §8.1): each pending row becomes
// one message on <subject prefix>.<propertyId>.<unitId>, with the row's id
// as Nats-Msg-Id (the broker drops a duplicate within its window) and ids
// only in the body (the consumer reads the current state through the API:
// a claim check). A unit's requests are published in the order they were
// written.
//
// Every replica may run a relay: db.RelayChanges holds each unit it takes
// for the length of a transaction, so no two relays publish the same rows.
// A relay wakes on the outbox's NOTIFY and polls slowly as a safety net;
// while the broker is away it backs off and the rows wait.
//
// The relay's connection must not buffer while it reconnects
// (nats.ReconnectBufSize(-1)); New refuses one that does. A connection
// that loses the broker drops what it had written and not yet delivered,
// and a buffered publish of the same batch, sent on reconnection, would
// reach the stream ahead of an earlier request of its unit that was lost
// that way and is only published again on the next drain.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Config shapes a relay; the zero value of a field takes its default.
type Config struct {
	// Stream and SubjectPrefix name the JetStream stream (created if
	// missing, file storage) and its subjects (default PORTAL_CHANGES and
	// portal.changes, the contract's names; tests use names of their own).
	Stream, SubjectPrefix string
	// Units and Batch bound one transaction: the units taken and the rows
	// published (default 100 and 1,000).
	Units, Batch int
	// Poll is the safety-net interval when no NOTIFY comes (default 5 s).
	Poll time.Duration
	// Duplicates is the broker's de-duplication window (default 2 min).
	Duplicates time.Duration
	// AckWait bounds the wait for the broker's acknowledgements of one
	// batch (default 5 s).
	AckWait time.Duration
	// Linger is how long a relay waits after a NOTIFY before it reads the
	// outbox, so that the writes of a busy moment go in one batch rather
	// than one transaction each (default 20 ms; what it adds to the time to
	// the broker).
	Linger time.Duration
	// Tracing, when set, makes a producer span of each publish, the child
	// of the request that wrote the change request (its traceparent, kept
	// with the row). Either way a message carries that traceparent (the
	// publish span's when there is one) in its traceparent header, so the
	// Wi-Fi side's consumer continues the trace.
	Tracing trace.TracerProvider
	// RepublishAfter is how long a published change request may go
	// unanswered by the Wi-Fi side before it is published again (see
	// db.RepublishUnanswered; default an hour, never less than twice
	// Duplicates, inside which the broker would drop it as a duplicate).
	RepublishAfter time.Duration
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "PORTAL_CHANGES"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "portal.changes"
	}
	if c.Units <= 0 {
		c.Units = 100
	}
	if c.Batch <= 0 {
		c.Batch = 1000
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 2 * time.Minute
	}
	if c.AckWait <= 0 {
		c.AckWait = 5 * time.Second
	}
	if c.Linger <= 0 {
		c.Linger = 20 * time.Millisecond
	}
	if c.RepublishAfter <= 0 {
		c.RepublishAfter = time.Hour
	}
	c.RepublishAfter = max(c.RepublishAfter, 2*c.Duplicates)
	return c
}

// Relay moves pending change requests to the broker.
type Relay struct {
	db  *db.DB
	js  jetstream.JetStream
	cfg Config
	log *slog.Logger

	published, failures, republished prometheus.Counter
	streamReady                      bool
	// swept is when the relay last looked for unanswered requests.
	swept time.Time
}

// sweep puts unanswered published requests back to PENDING, at most every
// tenth of RepublishAfter, and reports whether it put any back.
func (r *Relay) sweep(ctx context.Context) bool {
	if time.Since(r.swept) < r.cfg.RepublishAfter/10 {
		return false
	}
	r.swept = time.Now()
	n, err := r.db.RepublishUnanswered(ctx, r.cfg.RepublishAfter, r.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil { // not when the relay is stopping
			r.log.Warn("relay: could not look for unanswered change requests", "error", err)
		}
		return false
	}
	if n > 0 {
		r.republished.Add(float64(n))
		r.log.Warn("relay: change requests unanswered by the Wi-Fi side are published again", "count", n,
			"unanswered_for", r.cfg.RepublishAfter.String())
	}
	return n > 0
}

// ErrReconnectBuffer reports a connection that keeps publications while it
// reconnects: with it a unit's requests could reach the stream out of order
// (see the package's doc).
var ErrReconnectBuffer = errors.New("relay: the NATS connection buffers while reconnecting; connect with nats.ReconnectBufSize(-1)")

// New returns a relay over store and js, whose connection must be made with
// nats.ReconnectBufSize(-1) (ErrReconnectBuffer otherwise); its counters
// are registered on reg when it is not nil.
func New(store *db.DB, js jetstream.JetStream, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Relay, error) {
	if js.Conn().Opts.ReconnectBufSize >= 0 {
		return nil, ErrReconnectBuffer
	}
	r := &Relay{db: store, js: js, cfg: cfg.withDefaults(), log: log,
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "portal_outbox_published_total",
			Help: "Change requests this replica published to the broker."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "portal_outbox_publish_errors_total",
			Help: "Change requests whose publication failed (they are published again later)."}),
		republished: prometheus.NewCounter(prometheus.CounterOpts{Name: "portal_outbox_republished_total",
			Help: "Published change requests the Wi-Fi side left unanswered past OUTBOX_REPUBLISH_AFTER, put back to be published again."}),
	}
	if reg != nil {
		reg.MustRegister(r.published, r.failures, r.republished)
	}
	return r, nil
}

// Message is the body of a published change request: ids only.
type Message struct {
	ID         uuid.UUID        `json:"id"`
	Kind       model.ChangeKind `json:"kind"`
	PropertyID uuid.UUID        `json:"propertyId"`
	UnitID     uuid.UUID        `json:"unitId"`
	UserID     *uuid.UUID       `json:"userId"`
	DeviceID   *uuid.UUID       `json:"deviceId"`
	MACAddress *string          `json:"macAddress"`
	CreatedAt  time.Time        `json:"createdAt"`
}

// Subject is the subject of a unit's change requests.
func Subject(prefix string, propertyID, unitID uuid.UUID) string {
	return prefix + "." + propertyID.String() + "." + unitID.String()
}

// EnsureStream creates the stream if it is missing (file storage, the
// de-duplication window of the config) and leaves an existing one as it
// is.
func (r *Relay) EnsureStream(ctx context.Context) error {
	_, err := r.js.Stream(ctx, r.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = r.js.CreateStream(ctx, jetstream.StreamConfig{Name: r.cfg.Stream, Subjects: []string{r.cfg.SubjectPrefix + ".>"},
			Storage: jetstream.FileStorage, Duplicates: r.cfg.Duplicates})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another replica made it meanwhile
		}
	}
	return err
}

// Run relays until ctx ends: at once, on every NOTIFY of a new change
// request, and every Poll; after a failure it backs off (100 ms to 5 s).
func (r *Relay) Run(ctx context.Context) {
	wake := make(chan struct{}, 1)
	nudge := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		r.db.Listen(ctx, db.ChangesChannel, func(string) { nudge() }, func(up bool) {
			if up {
				nudge() // notices may have been missed while it was down
			}
		}, r.log)
	}()
	defer func() { <-listening }()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		if err := r.Drain(ctx); err != nil && ctx.Err() == nil {
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			r.log.Warn("relay: change requests wait for the broker", "error", err, "retry_in", backoff.String())
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if r.sweep(ctx) {
			continue // what it put back is published at once
		}
		select {
		case <-ctx.Done():
		case <-wake:
			select { // gather what the writers add meanwhile
			case <-ctx.Done():
			case <-time.After(r.cfg.Linger):
			}
		case <-time.After(r.cfg.Poll):
		}
	}
}

// errPartial reports a batch the broker did not take whole.
var errPartial = errors.New("the broker did not acknowledge every message")

// Drain publishes pending change requests until none is left that this
// relay can take, or the broker fails.
func (r *Relay) Drain(ctx context.Context) error {
	if !r.streamReady {
		if err := r.EnsureStream(ctx); err != nil {
			return err
		}
		r.streamReady = true
	}
	for ctx.Err() == nil {
		var failed bool
		n, err := r.db.RelayChanges(ctx, r.cfg.Units, r.cfg.Batch, func(ctx context.Context, pending []model.ChangeRequest) []uuid.UUID {
			ok, bad := r.publish(ctx, pending)
			failed = bad
			return ok
		})
		r.published.Add(float64(n))
		switch {
		case err != nil:
			return err
		case failed:
			return errPartial
		case n == 0:
			return nil
		}
	}
	return ctx.Err()
}

// publish sends pending (in write order) asynchronously and waits for the
// acknowledgements. It returns, for each unit, the ids acknowledged before
// its first failure (a unit's later requests are not even sent after one
// fails, so that they follow it), and whether anything failed.
func (r *Relay) publish(ctx context.Context, pending []model.ChangeRequest) ([]uuid.UUID, bool) {
	futures := make([]jetstream.PubAckFuture, len(pending))
	stopped := map[uuid.UUID]bool{}
	failed := false
	for i, c := range pending {
		if stopped[c.UnitID] {
			continue
		}
		body, _ := json.Marshal(Message{ID: c.ID, Kind: c.Kind, PropertyID: c.PropertyID, UnitID: c.UnitID,
			UserID: c.UserID, DeviceID: c.DeviceID, MACAddress: c.MACAddress, CreatedAt: c.CreatedAt.UTC()})
		msg := nats.NewMsg(Subject(r.cfg.SubjectPrefix, c.PropertyID, c.UnitID))
		msg.Data = body
		span := r.traceMessage(ctx, c, msg)
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(c.ID.String()))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			span.End()
			stopped[c.UnitID], failed = true, true
			continue
		}
		span.End()
		futures[i] = f
	}
	timeout := time.NewTimer(r.cfg.AckWait)
	defer timeout.Stop()
	expired := false             // after AckWait, only acknowledgements already in count
	done := map[uuid.UUID]bool{} // units whose prefix has ended
	var ok []uuid.UUID
	acked := func(f jetstream.PubAckFuture) bool {
		select { // an answer already there wins over the timer
		case <-f.Ok():
			return true
		case <-f.Err():
			return false
		default:
		}
		if expired {
			return false
		}
		select {
		case <-f.Ok():
			return true
		case <-f.Err():
		case <-timeout.C:
			expired = true
		case <-ctx.Done():
			expired = true
		}
		return false
	}
	for i, f := range futures {
		c := pending[i]
		if f == nil || done[c.UnitID] || !acked(f) {
			done[c.UnitID], failed = true, true
			continue
		}
		ok = append(ok, c.ID)
	}
	if failed {
		r.failures.Add(float64(len(pending) - len(ok)))
	}
	return ok, failed
}

// traceMessage gives msg the traceparent header of change request c's
// trace: a producer span's below the writing request when tracing is on,
// the stored traceparent itself when it is off (nothing when c was not
// traced). The span (possibly a no-op) is the caller's to end.
func (r *Relay) traceMessage(ctx context.Context, c model.ChangeRequest, msg *nats.Msg) trace.Span {
	if c.TraceParent == "" {
		return trace.SpanFromContext(context.Background()) // a no-op span
	}
	if r.cfg.Tracing == nil {
		msg.Header.Set("traceparent", c.TraceParent)
		return trace.SpanFromContext(context.Background())
	}
	parent := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": c.TraceParent})
	ctx, span := r.cfg.Tracing.Tracer(TracerName).Start(parent, "publish "+r.cfg.SubjectPrefix, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", msg.Subject), attribute.String("messaging.message.id", c.ID.String()),
			attribute.String("portal.change.kind", string(c.Kind))))
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	for k, v := range carrier {
		msg.Header.Set(k, v) // lower case, as W3C writes it: NATS headers are case-sensitive
	}
	return span
}

// TracerName names the relay's spans.
const TracerName = "github.com/residentportal/bff/resolvers/delivery/relay"
