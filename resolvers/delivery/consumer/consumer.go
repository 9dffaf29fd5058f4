package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/delivery/relay"
)

// Change is what a sink is handed: the message, and the current state it
// names, read through the portal's GraphQL API (the claim check). User is
// set for changes of an identity that still exists, Unit for changes of a
// unit; both are nil for a removed identity or device (the ids say it).
type Change struct {
	relay.Message
	User *User `json:"user,omitempty"`
	Unit *Unit `json:"unit,omitempty"`
}

// User is a unit user as the Wi-Fi side needs it.
type User struct {
	ID         uuid.UUID `json:"id"`
	UserName   string    `json:"userName"`
	Type       string    `json:"type"`
	Status     string    `json:"status"`
	Passphrase string    `json:"passphrase"`
}

// Unit is a unit as the Wi-Fi side needs it.
type Unit struct {
	ID     uuid.UUID `json:"id"`
	Number string    `json:"number"`
	Status string    `json:"status"`
}

// Sink applies a change to the Wi-Fi side: a controller's API, a RADIUS
// store. It may be called more than once for one change (delivery is at
// least once), so it must be idempotent: set the state it is given.
type Sink interface {
	Apply(ctx context.Context, c Change) error
}

// Consumer reads change requests from JetStream, hands each to a sink, and
// reports the result to the portal.
type Consumer struct {
	API  *API
	Sink Sink
	Log  *slog.Logger
	// MaxDeliver bounds the attempts at one change; after the last failed
	// one it is reported FAILED with the sink's error and not retried.
	MaxDeliver int
	// RetryDelay is the wait before a failed change is delivered again.
	RetryDelay time.Duration
	// Patience is how long a change waits for a portal that cannot answer
	// (rate-limited, unavailable) before it is left for a later delivery
	// (default 5 min); such waits spend no delivery.
	Patience time.Duration
}

// Run hands every message of cons to Handle until ctx ends, then drains.
func (c *Consumer) Run(ctx context.Context, cons jetstream.Consumer) error {
	// One message at a time, one held in the client: a message waiting in a
	// client buffer while the portal paces the one before would see its
	// acknowledgement deadline pass and be delivered again, spending its
	// deliveries.
	cc, err := cons.Consume(func(msg jetstream.Msg) { c.Handle(ctx, msg) }, jetstream.PullMaxMessages(1))
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

// Handle processes one message: read, apply, report, then acknowledge.
func (c *Consumer) Handle(ctx context.Context, msg jetstream.Msg) {
	var m relay.Message
	if err := json.Unmarshal(msg.Data(), &m); err != nil || m.ID == uuid.Nil {
		c.Log.Error("not a change request; dropped", "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	log := c.Log.With("change", m.ID, "kind", m.Kind, "unit", m.UnitID)
	if tp := msg.Headers().Get("traceparent"); traceparent.MatchString(tp) {
		// The change's trace goes on: the claim check and the report are
		// requests of the trace that wrote the change.
		ctx = context.WithValue(ctx, traceparentKey{}, tp)
		log = log.With("trace_id", tp[3:35])
	}
	if _, ok := c.API.Keys[m.PropertyID]; !ok {
		// Not ours to apply or to fail: its owner's consumer (or this one,
		// given the key) takes it.
		log.Error("a change of a property this consumer has no manager key for; left for its owner", "property", m.PropertyID)
		_ = msg.NakWithDelay(c.RetryDelay)
		return
	}
	err := c.patiently(ctx, msg, func() error { return c.apply(ctx, m) })
	if refused(err) {
		c.holdForKey(ctx, msg, log, m.PropertyID, err)
		return
	}
	if ok, _ := transient(err); ok {
		// The portal could not be asked for the state within Patience:
		// not the change's failure. Delivered again later (the portal
		// publishes it again if it runs out of deliveries).
		log.Warn("the portal did not answer the claim check; will be delivered again", "error", err)
		_ = msg.NakWithDelay(c.RetryDelay)
		return
	}
	if err == nil {
		if err := c.patiently(ctx, msg, func() error { return c.API.Complete(ctx, m.PropertyID, m.ID, "APPLIED", "") }); err != nil {
			if terminal(err) {
				// Completed otherwise already (or gone): delivering it
				// again would apply it again, and never complete it.
				_ = msg.Ack()
				log.Warn("applied, but the portal keeps its own result; not delivered again", "error", err)
				return
			}
			log.Warn("applied, but the result could not be reported; will be delivered again", "error", err)
			_ = msg.NakWithDelay(c.RetryDelay)
			return
		}
		_ = msg.Ack()
		log.Info("applied")
		return
	}
	meta, _ := msg.Metadata()
	if meta != nil && int(meta.NumDelivered) < c.MaxDeliver {
		log.Warn("not applied; will be delivered again", "error", err, "attempt", meta.NumDelivered)
		_ = msg.NakWithDelay(c.RetryDelay)
		return
	}
	// The last attempt: a dead letter, visible as FAILED with the reason.
	if rerr := c.patiently(ctx, msg, func() error { return c.API.Complete(ctx, m.PropertyID, m.ID, "FAILED", err.Error()) }); rerr != nil {
		log.Error("failed, and the failure could not be reported", "error", err, "report_error", rerr)
	}
	_ = msg.Term()
	log.Error("failed for good", "error", err)
}

// patiently runs call until it succeeds, fails for a reason of its own,
// or the portal has been unable to answer (RATE_LIMITED, UNAVAILABLE,
// unreachable) for Patience: it waits as the portal asks (Retry-After) or
// backs off (0.2 s doubling to 10 s) meanwhile, telling the broker the
// message is in progress so that it is not delivered again behind its
// back. A consumer catching up on a backlog is paced by the portal this
// way instead of spending its deliveries.
func (c *Consumer) patiently(ctx context.Context, msg jetstream.Msg, call func() error) error {
	patience := c.Patience
	if patience <= 0 {
		patience = 5 * time.Minute
	}
	deadline := time.Now().Add(patience)
	backoff := 200 * time.Millisecond
	for {
		err := call()
		ok, wait := transient(err)
		if !ok || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		if wait <= 0 {
			wait, backoff = backoff, min(2*backoff, 10*time.Second)
		}
		_ = msg.InProgress()
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// holdForKey keeps msg in hand, neither applied nor reported (it could
// not be, with that key), until ctx ends: a key the portal refuses
// (revoked, another deployment's) does not mend itself, and spending the
// change's deliveries on it would leave it to the portal's hourly
// republication. It says so at ERROR now and every minute; the property's
// other changes wait behind it, other properties' consumers go on. Started
// again with a valid key, the consumer is handed the change again.
func (c *Consumer) holdForKey(ctx context.Context, msg jetstream.Msg, log *slog.Logger, property uuid.UUID, err error) {
	say := func() {
		log.Error("the portal refuses this consumer's manager key for the property: set a valid one in WIFISYNC_KEYS and start "+
			"the consumer again; the change is held meanwhile, neither applied nor FAILED", "property", property, "error", err)
	}
	say()
	heartbeat, again := time.NewTicker(10*time.Second), time.NewTicker(time.Minute)
	defer heartbeat.Stop()
	defer again.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			_ = msg.InProgress()
		case <-again.C:
			say()
		}
	}
}

// apply reads the state the message names and hands it to the sink.
func (c *Consumer) apply(ctx context.Context, m relay.Message) error {
	ch := Change{Message: m}
	switch {
	case m.UserID != nil && (m.Kind == "IDENTITY_CREATED" || m.Kind == "IDENTITY_CHANGED" || m.Kind == "PASSPHRASE_CHANGED"):
		u, err := c.API.User(ctx, m.PropertyID, *m.UserID)
		if err != nil && !errors.Is(err, errGone) {
			return err
		}
		ch.User = u // nil when removed since: a later message says so
	case m.Kind == "UNIT_STATUS_CHANGED" || m.Kind == "PORTAL_ACCESS_RESET":
		u, err := c.API.Unit(ctx, m.PropertyID, m.UnitID)
		if err != nil && !errors.Is(err, errGone) {
			return err
		}
		ch.Unit = u
	}
	if err := c.Sink.Apply(ctx, ch); err != nil {
		return &sinkError{err}
	}
	return nil
}

// API is the portal's GraphQL API with a manager key per property.
type API struct {
	URL    string
	Keys   map[uuid.UUID]string
	Client *http.Client
}

var errGone = errors.New("no longer exists")

// ErrNoKey is the error for a change of a property the consumer has no
// manager key for: another deployment's, or a key missing from
// WIFISYNC_KEYS. The change is left for its owner, loudly.
var ErrNoKey = errors.New("no manager key for property")

// portalError is an error the portal answered, with its code (and, for
// RATE_LIMITED, when to try again).
type portalError struct {
	code, message string
	retryAfter    time.Duration
}

func (e *portalError) Error() string { return fmt.Sprintf("portal: %s (%s)", e.message, e.code) }

// terminal reports whether err is an answer that no retry changes: the
// change request was completed with another result (CONFLICT) or is gone.
func terminal(err error) bool {
	var pe *portalError
	return errors.Is(err, errGone) || errors.As(err, &pe) && pe.code == "CONFLICT"
}

// transient reports whether err says the portal could not answer now
// (RATE_LIMITED, UNAVAILABLE, or no answer at all) rather than anything
// about the change, and how long it asked to wait (0: unsaid).
func transient(err error) (bool, time.Duration) {
	var pe *portalError
	switch {
	case err == nil, errors.Is(err, errGone), errors.Is(err, context.Canceled), errors.Is(err, ErrNoKey):
		return false, 0
	case errors.As(err, &pe):
		return pe.code == "RATE_LIMITED" || pe.code == "UNAVAILABLE", pe.retryAfter
	case errors.As(err, new(*sinkError)):
		return false, 0
	}
	return true, 0 // the request did not reach the portal, or its answer was not one
}

// refused reports whether the portal refused the consumer's manager key
// (revoked, or another deployment's): nothing about the change (see
// holdForKey).
func refused(err error) bool {
	var pe *portalError
	return errors.As(err, &pe) && (pe.code == "UNAUTHENTICATED" || pe.code == "FORBIDDEN")
}

// sinkError is a sink's refusal: the change's own failure, never the
// portal's.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// traceparentKey carries a message's W3C traceparent to the API calls made
// for it.
type traceparentKey struct{}

var traceparent = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (a *API) do(ctx context.Context, property uuid.UUID, query string, vars map[string]any, out any) error {
	key, ok := a.Keys[property]
	if !ok {
		return fmt.Errorf("%w %s", ErrNoKey, property)
	}
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", key)
	if tp, ok := ctx.Value(traceparentKey{}).(string); ok {
		req.Header.Set("traceparent", tp)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var res struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("portal answered %d: %.200s", resp.StatusCode, raw)
	}
	if len(res.Errors) > 0 {
		if res.Errors[0].Extensions["code"] == "NOT_FOUND" {
			return errGone
		}
		code, _ := res.Errors[0].Extensions["code"].(string)
		pe := &portalError{code: code, message: res.Errors[0].Message}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			pe.retryAfter = time.Duration(secs) * time.Second
		}
		return pe
	}
	return json.Unmarshal(res.Data, out)
}

// User reads a unit user (errGone if it no longer exists).
func (a *API) User(ctx context.Context, property, id uuid.UUID) (*User, error) {
	var out struct{ UnitUser *User }
	err := a.do(ctx, property, UnitUserQuery,
		map[string]any{"p": property, "u": id}, &out)
	return out.UnitUser, err
}

// Unit reads a unit (errGone if it no longer exists).
func (a *API) Unit(ctx context.Context, property, id uuid.UUID) (*Unit, error) {
	var out struct{ Unit *Unit }
	err := a.do(ctx, property, UnitQuery,
		map[string]any{"p": property, "u": id}, &out)
	return out.Unit, err
}

// Complete reports a change request's result.
func (a *API) Complete(ctx context.Context, property, id uuid.UUID, result, detail string) error {
	var d any
	if detail != "" {
		d = reportable(detail)
	}
	var out struct{ CompleteChangeRequest struct{ Status string } }
	err := a.do(ctx, property, CompleteMutation,
		map[string]any{"p": property, "id": id, "r": result, "d": d}, &out)
	if errors.Is(err, errGone) {
		return nil // the unit is gone, and its change requests with it
	}
	return err
}

// reportable makes a sink's error fit the portal's rules for a detail
// (model.ValidateText): valid UTF-8, no control characters but newline and
// tab, at most model.MaxChangeDetail characters.
func reportable(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if n == model.MaxChangeDetail {
			break
		}
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// StdoutSink writes one JSON line per change (one Write each, so lines of
// properties consumed side by side never interleave): the default, and the
// place to start a real integration from. The passphrase is not printed.
type StdoutSink struct{ W io.Writer }

// Apply implements Sink.
func (s StdoutSink) Apply(_ context.Context, c Change) error {
	if c.User != nil {
		u := *c.User
		u.Passphrase = fmt.Sprintf("(%d characters, not shown)", len(u.Passphrase))
		c.User = &u
	}
	return json.NewEncoder(s.W).Encode(c)
}

// Durables makes (or finds) the durable pull consumers this consumer reads
// on stream, one per property of API.Keys: named name + "-" + the
// property's id and filtered to prefix + "." + the property's id + ".>",
// with cfg's other settings. The stream's name is the contract (SPEC §8.1),
// so deployments that share a NATS share it; they never share a consumer,
// because each reads only the subjects of the properties it holds a key
// for, and property ids are each deployment's own. A change of a property
// without a key is never delivered here: it waits for its owner.
func (c *Consumer) Durables(ctx context.Context, js jetstream.JetStream, stream, prefix, name string, cfg jetstream.ConsumerConfig) ([]jetstream.Consumer, error) {
	ids := make([]uuid.UUID, 0, len(c.API.Keys))
	for p := range c.API.Keys {
		ids = append(ids, p)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	out := make([]jetstream.Consumer, 0, len(ids))
	for _, p := range ids {
		one := cfg
		one.Durable, one.Name, one.FilterSubject = name+"-"+p.String(), "", prefix+"."+p.String()+".>"
		cons, err := js.CreateOrUpdateConsumer(ctx, stream, one)
		if err != nil {
			return nil, fmt.Errorf("the consumer %s on %s: %w", one.Durable, stream, err)
		}
		out = append(out, cons)
	}
	return out, nil
}

// RunAll runs Run on each of conss (from Durables), one change in hand
// per property, until ctx ends or one of them cannot go on (then the others
// stop too, and its error is returned).
func (c *Consumer) RunAll(ctx context.Context, conss []jetstream.Consumer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(conss))
	for _, cons := range conss {
		go func() {
			err := c.Run(ctx, cons)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	for range conss {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
