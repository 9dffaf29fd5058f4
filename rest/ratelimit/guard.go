package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/rest/edge"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// FailedLogins is the per-client-IP budget of failed logins: a few a
// minute, checked before a login reaches its property's bucket.
var FailedLogins = Config{Burst: 10, PerSecond: 10.0 / 60}

// Guard charges calls to their property's bucket (or, for calls that name
// no property, to their client's) and keeps failed logins in check. One
// Guard serves both transports.
type Guard struct {
	limiter   Limiter
	failed    *Memory
	decisions *prometheus.CounterVec
	// counted holds the decision counters by transport and outcome,
	// resolved once (a label lookup per request costs a hash).
	counted map[string][2]prometheus.Counter
}

// NewGuard returns a Guard over limiter, with its decision counter
// registered on reg (when not nil).
func NewGuard(limiter Limiter, reg prometheus.Registerer) *Guard {
	g := &Guard{
		limiter: limiter,
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

// bucketKey is the bucket a call is charged to: its property's, or its
// client's when it names no (valid) property.
func bucketKey(ctx context.Context, property string) (key, policy string) {
	if id, err := uuid.Parse(property); err == nil {
		return "property:" + id.String(), "property"
	}
	return "client:" + model.ClientIPFrom(ctx), "client"
}

// setHeaders writes the draft-ietf-httpapi-ratelimit-headers-09 fields and,
// when refused, Retry-After.
func setHeaders(h http.Header, policy string, d Decision) {
	secs := int(math.Ceil(d.Wait.Seconds()))
	name := strconv.Quote(policy)
	h["Ratelimit-Policy"] = []string{name + ";q=" + strconv.Itoa(d.Burst) + ";w=1"}
	h["Ratelimit"] = []string{name + ";r=" + strconv.Itoa(d.Remaining) + ";t=" + strconv.Itoa(secs)}
	if !d.Allowed {
		h["Retry-After"] = []string{strconv.Itoa(max(1, secs))}
	}
}

func (g *Guard) count(transport string, allowed bool) {
	i := 0
	if allowed {
		i = 1
	}
	g.counted[transport][i].Inc()
}

// RecordFailedLogin spends one of the client's failed-login budget; the
// service layer calls it for every refused login.
func (g *Guard) RecordFailedLogin(ctx context.Context) {
	g.failed.Allow(ctx, model.ClientIPFrom(ctx), 1)
}

// loginBlocked reports whether the client has no failed logins left.
func (g *Guard) loginBlocked(ctx context.Context) (Decision, bool) {
	d := g.failed.Peek(model.ClientIPFrom(ctx))
	return d, !d.Allowed
}

// REST returns the middleware that charges one call of a REST operation to
// the property of its path, before anything else is checked but the body
// size. login marks the login operation, which is first held to the
// client's failed-login budget.
func (g *Guard) REST(login bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if login {
				if d, blocked := g.loginBlocked(ctx); blocked {
					g.count("rest", false)
					setHeaders(w.Header(), "client", d)
					edge.WriteError(w, http.StatusTooManyRequests, "too many failed logins from this client; try again later", "", nil)
					return
				}
			}
			key, policy := bucketKey(ctx, chi.URLParam(r, "propertyId"))
			d := g.limiter.Allow(ctx, key, 1)
			g.count("rest", d.Allowed)
			setHeaders(w.Header(), policy, d)
			if !d.Allowed {
				edge.WriteError(w, http.StatusTooManyRequests, "rate limit exceeded for this property", "", nil)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// GraphQL returns the gqlgen extension that charges an operation, once it
// is parsed and validated, one call per root field it selects (aliases and
// fragments expanded, at least one) to the property each field acts on.
func (g *Guard) GraphQL() graphql.HandlerExtension { return graphQLGuard{g} }

type graphQLGuard struct{ g *Guard }

func (graphQLGuard) ExtensionName() string                   { return "PropertyRateLimit" }
func (graphQLGuard) Validate(graphql.ExecutableSchema) error { return nil }

func (q graphQLGuard) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	root := "Query"
	if oc.Operation.Operation == ast.Mutation {
		root = "Mutation"
	}
	type charge struct {
		key, policy string
		n           int
	}
	var charges []*charge
	byKey := map[string]*charge{}
	login := false
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{root}) {
		login = login || f.Name == "login"
		property, _ := f.ArgumentMap(oc.Variables)["propertyId"].(string)
		key, policy := bucketKey(ctx, property)
		c, ok := byKey[key]
		if !ok {
			c = &charge{key: key, policy: policy}
			byKey[key] = c
			charges = append(charges, c)
		}
		c.n++
	}
	if len(charges) == 0 {
		key, policy := bucketKey(ctx, "")
		charges = append(charges, &charge{key: key, policy: policy, n: 1})
	}
	header := resolvers.ResponseHeader(ctx)
	if header == nil {
		header = http.Header{}
	}
	if login {
		if d, blocked := q.g.loginBlocked(ctx); blocked {
			q.g.count("graphql", false)
			setHeaders(header, "client", d)
			return limited(ctx, "too many failed logins from this client; try again later")
		}
	}
	for _, c := range charges {
		d := q.g.limiter.Allow(ctx, c.key, c.n)
		q.g.count("graphql", d.Allowed)
		setHeaders(header, c.policy, d)
		if !d.Allowed {
			msg := "rate limit exceeded for this property"
			if c.n > d.Burst {
				msg = fmt.Sprintf("the operation selects %d root fields; at most %d fit in the property's budget", c.n, d.Burst)
			}
			return limited(ctx, msg)
		}
	}
	return next(ctx)
}

func limited(ctx context.Context, msg string) graphql.ResponseHandler {
	resolvers.Hint(ctx, model.CodeRateLimited)
	err := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(model.CodeRateLimited)}}
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
}
