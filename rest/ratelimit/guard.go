package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest/edge"
)

// FailedLogins is the per-client-IP budget of failed logins: a few a
// minute, spent before a login is evaluated.
var FailedLogins = Config{Burst: 10, PerSecond: 10.0 / 60}

// failedLoginsPolicy names the failed-login budget in RateLimit headers
// (10 a minute: q=10;w=60).
const failedLoginsPolicy = "failed-logins"

// DefaultClients is the shape of a client address's bucket, which calls
// without a recognised credential (public routes, missing or bogus
// credentials, ids that are not properties) are charged first.
var DefaultClients = Config{Burst: 30, PerSecond: 10}

// Guard charges calls to buckets and keeps failed logins in check. One
// Guard serves both transports.
//
// SECURITY: a call whose credential is recognised without a database round
// trip (service.Recognised: a token signed for the property, a cached
// manager key) is charged to its property's bucket. Every other call is
// charged first to its client address's bucket and then to the property's
// public bucket, which is not the residents': so one address cannot flood
// public routes, invented ids or bogus credentials past its own budget, and
// no number of addresses can spend what the residents of a property have.
type Guard struct {
	limiter Limiter // property buckets (residents' and public)
	clients Limiter // client address buckets
	failed  *Memory
	// failedShared, when set, counts every replica's failed logins (see
	// ShareFailedLogins).
	failedShared Limiter
	decisions    *prometheus.CounterVec
	// counted holds the decision counters by transport and outcome,
	// resolved once (a label lookup per request costs a hash).
	counted map[string][2]prometheus.Counter
}

// NewGuard returns a Guard over limiter (property buckets) and clients
// (client address buckets; in memory with DefaultClients when nil), with
// its decision counter registered on reg (when not nil).
func NewGuard(limiter, clients Limiter, reg prometheus.Registerer) *Guard {
	if clients == nil {
		clients = NewMemory(DefaultClients, nil, 0)
	}
	g := &Guard{
		limiter: limiter,
		clients: clients,
		failed:  NewMemory(FailedLogins, nil, 0),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portal_ratelimit_decisions_total", Help: "Rate-limit decisions by transport and outcome.",
		}, []string{"transport", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(g.decisions)
	}
	g.counted = map[string][2]prometheus.Counter{}
	for _, t := range []string{"rest", "graphql"} {
		g.counted[t] = [2]prometheus.Counter{g.decisions.WithLabelValues(t, "limited"), g.decisions.WithLabelValues(t, "allowed")}
	}
	return g
}

// DegradedGauge returns a gauge (registered on reg) that NewRedis can set
// while Redis is unreachable.
func DegradedGauge(reg prometheus.Registerer) func(bool) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "portal_ratelimit_redis_degraded",
		Help: "1 while Redis is unreachable and buckets are per replica."})
	if reg != nil {
		reg.MustRegister(g)
	}
	return func(down bool) {
		if down {
			g.Set(1)
		} else {
			g.Set(0)
		}
	}
}

// charge is what one call (or the root fields of an operation) costs one
// bucket.
type charge struct {
	lim         Limiter
	key, policy string
	n           int
}

// charges are the buckets a call acting on property is charged to, in
// order: its property's when it carries a recognised resident credential
// (and is not public) — its property's managers' bucket, as large, for a
// manager key, so that a consumer catching up on a backlog of changes, or
// a manager's script, never spends the residents' budget —, else its
// client's and then its property's public bucket; its client's alone when
// property is not a property id.
func (g *Guard) charges(ctx context.Context, property string, public bool) []charge {
	id, err := uuid.Parse(property)
	if err == nil && !public {
		switch service.RecognisedAs(ctx, id) {
		case service.RecognisedResident:
			return []charge{{g.limiter, bucketKey("property:", id), "property", 0}}
		case service.RecognisedManager:
			return []charge{{g.limiter, bucketKey("managers:", id), "property", 0}}
		}
	}
	client := charge{g.clients, "client:" + model.ClientIPFrom(ctx), "client", 0}
	if err != nil {
		return []charge{client}
	}
	return []charge{client, {g.limiter, bucketKey("public:", id), "property", 0}}
}

// bucketKey is prefix followed by id in its one canonical spelling (so
// that the spellings uuid.Parse accepts all name one bucket).
func bucketKey(prefix string, id uuid.UUID) string {
	var b [16 + 36]byte
	return string(model.AppendUUID(append(b[:0], prefix...), id))
}

// spend charges each bucket in turn, writing the rate-limit headers of the
// last one charged, and stops at the first that refuses (the earlier
// charges stand: a client refused by its property's public bucket has
// spent its own call, nobody else's). It counts one decision and returns
// the refusal's message, or "".
func (g *Guard) spend(ctx context.Context, header http.Header, transport string, charges []charge) string {
	for i, c := range charges {
		d := c.lim.Allow(ctx, c.key, c.n)
		if !d.Allowed || i == len(charges)-1 {
			g.count(transport, d.Allowed) // one decision per call
		}
		setHeaders(header, c.policy, d)
		if !d.Allowed {
			switch {
			case c.n > d.Burst:
				return fmt.Sprintf("the operation costs %d calls; at most %d fit in the %s's budget", c.n, d.Burst, c.policy)
			case c.policy == "client":
				return "rate limit exceeded for this client address"
			}
			return "rate limit exceeded for this property"
		}
	}
	return ""
}

// setHeaders writes the draft-ietf-httpapi-ratelimit-headers-09 fields and,
// when refused, Retry-After. Buckets refill per second (w=1), except the
// failed-login budget, which counts per minute.
func setHeaders(h http.Header, policy string, d Decision) {
	secs := int(math.Ceil(d.Wait.Seconds()))
	h["Ratelimit-Policy"] = policyHeader(policy, d.Burst)
	var buf [64]byte
	b := strconv.AppendQuote(buf[:0], policy)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, int64(secs), 10)
	h["Ratelimit"] = []string{string(b)}
	if !d.Allowed {
		h["Retry-After"] = []string{strconv.Itoa(max(1, secs))}
	}
}

type policyKey struct {
	policy string
	burst  int
}

// policies holds each policy's RateLimit-Policy value: a few policies and
// bursts, fixed by configuration, shared by every response (a header value
// is replaced, never written in place).
var policies sync.Map // policyKey → []string

func policyHeader(policy string, burst int) []string {
	k := policyKey{policy, burst}
	if v, ok := policies.Load(k); ok {
		return v.([]string)
	}
	window := ";w=1"
	if policy == failedLoginsPolicy {
		window = ";w=60"
	}
	v, _ := policies.LoadOrStore(k, []string{strconv.Quote(policy) + ";q=" + strconv.Itoa(burst) + window})
	return v.([]string)
}

func (g *Guard) count(transport string, allowed bool) {
	i := 0
	if allowed {
		i = 1
	}
	g.counted[transport][i].Inc()
}

// ShareFailedLogins makes the failed-login budget the fleet's: every
// failed login is also counted in shared (a Limiter shaped FailedLogins,
// in Redis), and a client with no failures left there is refused on every
// replica. Without it each replica keeps its own budget, so a client could
// spend FailedLogins once per replica. The replica's own budget stays in
// front: it holds a guess's failure before the guess is evaluated, so
// that guesses sent at once to one replica cannot all pass the shared
// check before their failures are counted.
func (g *Guard) ShareFailedLogins(shared Limiter) { g.failedShared = shared }

// BeginLogin spends one of the client's failed-login budget before a
// login is evaluated; finish gives it back when the login did not fail,
// and counts the failure in the shared budget when it did (see
// service.LoginFailures).
func (g *Guard) BeginLogin(ctx context.Context) (finish func(failed bool), wait time.Duration, ok bool) {
	client := model.ClientIPFrom(ctx)
	// The replica's own budget first: a client it refuses costs no
	// round trip to the shared one, and one request's aliased logins
	// reach the shared budget at most FailedLogins.Burst times.
	giveBack, wait, ok := g.failed.Take(client)
	if !ok {
		return nil, wait, false
	}
	// The shared budget was read for this request a moment ago (the
	// route's or the operation's charge, loginBlocked): one read per login.
	if info := model.RequestInfoFrom(ctx); info == nil || !info.SharedLoginsRead.Swap(false) {
		if d, blocked := g.sharedLoginBlocked(ctx, client); blocked {
			giveBack()
			return nil, d.Wait, false
		}
	}
	return func(failed bool) {
		if !failed {
			giveBack()
			return
		}
		if g.failedShared != nil {
			// Counted even when the request has ended meanwhile: the
			// guess was evaluated.
			g.failedShared.Allow(context.WithoutCancel(ctx), failedLoginsKey(client), 1)
		}
	}, 0, true
}

// loginBlocked reports whether the client has no failed logins left, on
// this replica or in the shared budget.
func (g *Guard) loginBlocked(ctx context.Context) (Decision, bool) {
	client := model.ClientIPFrom(ctx)
	if d, blocked := g.sharedLoginBlocked(ctx, client); blocked {
		return d, true
	}
	if info := model.RequestInfoFrom(ctx); info != nil && g.failedShared != nil {
		info.SharedLoginsRead.Store(true) // BeginLogin need not read it again
	}
	d := g.failed.Peek(client)
	return d, !d.Allowed
}

// sharedLoginBlocked reports whether the shared budget holds no failed
// login for client (never, without one). A charge of nothing reads the
// bucket without spending it.
func (g *Guard) sharedLoginBlocked(ctx context.Context, client string) (Decision, bool) {
	if g.failedShared == nil {
		return Decision{}, false
	}
	d := g.failedShared.Allow(ctx, failedLoginsKey(client), 0)
	if d.Remaining >= 1 {
		return d, false
	}
	// The wait for one failure to be forgiven, at most.
	return Decision{Burst: FailedLogins.Burst, Wait: time.Duration(float64(time.Second) / FailedLogins.PerSecond)}, true
}

// failedLoginsKey names a client's bucket in the shared failed-login
// budget.
func failedLoginsKey(client string) string { return "failed-logins:" + client }

// REST returns the middleware that charges one call of a REST operation,
// before anything else is checked but the body size (it runs after the
// credential is attached, which it reads without checking it against the
// database). public marks the operations that need no token; login marks
// the login operation, which is first held to the client's failed-login
// budget.
func (g *Guard) REST(public, login bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if login {
				if d, blocked := g.loginBlocked(ctx); blocked {
					g.count("rest", false)
					setHeaders(w.Header(), failedLoginsPolicy, d)
					edge.WriteError(w, http.StatusTooManyRequests, "too many failed logins from this client; try again later", "", nil)
					return
				}
			}
			charges := g.charges(ctx, chi.URLParam(r, "propertyId"), public)
			for i := range charges {
				charges[i].n = 1
			}
			if msg := g.spend(ctx, w.Header(), "rest", charges); msg != "" {
				edge.WriteError(w, http.StatusTooManyRequests, msg, "", nil)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ChargeGraphQL charges a GraphQL operation, once it is parsed and
// validated: one call per root field (aliases and fragments expanded) to
// the property each acts on, one call of the client's when none names a
// property; a login is first held to the client's failed-login budget. It
// writes the rate-limit headers into header and returns why it refused
// the operation ("" when it did not). The GraphQL endpoint calls it for
// every operation (resolvers.GraphQLOptions.RateLimiter).
func (g *Guard) ChargeGraphQL(ctx context.Context, header http.Header, calls []model.Call) string {
	var charges []charge
	var at map[string]int // bucket key → index in charges, past a few
	login := false
	add := func(c charge) {
		if at == nil {
			for i := range charges {
				if charges[i].key == c.key {
					charges[i].n++
					return
				}
			}
			if len(charges) == 8 {
				at = make(map[string]int, 2*len(charges))
				for i, c := range charges {
					at[c.key] = i
				}
			}
		}
		if at != nil {
			if i, ok := at[c.key]; ok {
				charges[i].n++
				return
			}
			at[c.key] = len(charges)
		}
		c.n = 1
		charges = append(charges, c)
	}
	for _, c := range calls {
		login = login || c.Login
		for _, ch := range g.charges(ctx, c.Property, c.Public) {
			add(ch)
		}
	}
	if len(charges) == 0 {
		for _, c := range g.charges(ctx, "", true) {
			add(c)
		}
	}
	if login {
		if d, blocked := g.loginBlocked(ctx); blocked {
			g.count("graphql", false)
			setHeaders(header, failedLoginsPolicy, d)
			return "too many failed logins from this client; try again later"
		}
	}
	return g.spend(ctx, header, "graphql", charges)
}

// AdmitParse charges one call to the client's bucket for a GraphQL
// document the server has not parsed before (see
// resolvers.GraphQLOptions.RateLimiter): parsing and validating are the
// expensive part of a new document, and they happen before any property is
// known. RATE_LIMITED when the bucket is empty.
func (g *Guard) AdmitParse(ctx context.Context, header http.Header) error {
	c := charge{g.clients, "client:" + model.ClientIPFrom(ctx), "client", 1}
	if msg := g.spend(ctx, header, "graphql", []charge{c}); msg != "" {
		return &model.Error{Code: model.CodeRateLimited, Message: "too many new GraphQL documents from this client address; try again later"}
	}
	return nil
}
