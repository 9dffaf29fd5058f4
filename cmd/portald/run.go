package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/residentportal/bff/cmd/internal/config"
	"github.com/residentportal/bff/cmd/internal/tracing"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/graph/playground"
	"github.com/residentportal/bff/graph/portal"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
	"github.com/residentportal/bff/resolvers/delivery/disconnect"
	"github.com/residentportal/bff/resolvers/delivery/relay"
	"github.com/residentportal/bff/resolvers/radius"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
	"github.com/residentportal/bff/rest/ratelimit"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// hooks let tests observe and extend a running server.
type hooks struct {
	// ready receives the bound public and metrics addresses once serving.
	ready func(public, metrics string)
	// radius receives the RADIUS server's bound addresses (when it serves).
	radius func(auth, acct string)
	// radsec receives RadSec's bound address (when it serves).
	radsec func(addr string)
	// extra mounts more routes on the public router.
	extra func(chi.Router)
	// tracing, when set, replaces the tracing the OTEL_* variables set up
	// (tests record spans in memory).
	tracing *tracing.Tracing
}

// run serves until ctx ends, then shuts down gracefully: it stops accepting
// connections, lets requests in flight finish within SHUTDOWN_GRACE, and
// returns.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, h hooks) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	metrics := edge.NewMetrics()
	traces := h.tracing
	if traces == nil {
		if traces, err = tracing.Setup(ctx, getenv, metrics.Registry); err != nil {
			return fmt.Errorf("tracing: %w", err)
		}
	}
	var logHandler slog.Handler = slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel})
	var tp trace.TracerProvider
	var prop propagation.TextMapPropagator
	if traces != nil {
		tp, prop = traces.Provider, traces.Propagator
		logHandler = edge.TraceLog(logHandler)
		// The SDK's own errors (a collector away) go to the JSON log.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			slog.New(logHandler).Warn("tracing", "error", err.Error())
		}))
		defer func() { // flush what is queued, within a bounded time
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = traces.Shutdown(flush)
		}()
	}
	log := slog.New(logHandler)
	keys, err := cfg.Keyring()
	if err != nil {
		return err
	}
	counter := &db.StatementCounter{}
	store, err := db.Open(ctx, cfg.DatabaseURL, keys, db.Options{Tracer: counter, Tracing: tp, StatementTimeout: cfg.DatabaseStatementTimeout})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := migrateWithRetry(ctx, store, log); err != nil {
		return err
	}
	// SECURITY: nothing is written under a key the data is not under.
	if err := store.VerifyKey(ctx); err != nil {
		return fmt.Errorf("SECRET_KEY: %w", err)
	}

	metrics.Registry.MustRegister(store.Collectors(counter)...)
	lims, closeLimiter, err := newLimiters(cfg, log, metrics, tp)
	if err != nil {
		return err
	}
	defer closeLimiter()
	guard := ratelimit.NewGuard(lims.properties, lims.clients, metrics.Registry)
	if lims.failedLogins != nil {
		guard.ShareFailedLogins(lims.failedLogins)
	}
	events := service.NewEvents()
	svc := service.New(store, keys, service.Options{TokenTTL: cfg.TokenTTL, LoginFailures: guard,
		ChangeCompleted: completionHistogram(metrics), Events: events})
	var staleKey atomic.Bool
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	listening := make(chan struct{})
	eventsDone := make(chan struct{})
	go func() {
		defer close(listening)
		store.ListenAuthChanges(listenCtx, rekeyWatch{svc.Authenticator(), func() {
			// SECURITY: after a rekey to another key, this process would
			// write what nobody can read back: it stops answering.
			if err := store.VerifyKey(listenCtx); errors.Is(err, db.ErrOtherKey) {
				staleKey.Store(true)
				log.Error("the database was rekeyed to another SECRET_KEY: restart with the new key; answering 503 until then")
			}
		}}, log)
	}()
	epochDone := make(chan struct{})
	go func() {
		defer close(epochDone)
		svc.Authenticator().WatchEpoch(listenCtx) // stands in for the revocation notices while they are away
	}()
	go func() {
		defer close(eventsDone)
		store.Listen(listenCtx, db.EventsChannel, events.Notice, events.ListenerUp, log)
	}()
	defer func() { stopListening(); <-listening; <-eventsDone; <-epochDone }()

	var draining atomic.Bool
	stopRelay, err := startRelay(ctx, cfg, store, log, metrics, tp)
	if err != nil {
		return err
	}
	defer stopRelay()
	defer startPruner(ctx, store, cfg.OutboxRetention, log, metrics.Registry)()
	metrics.Registry.MustRegister(outboxCollector{store})

	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	trusted, err := trustedDocuments(cfg)
	if err != nil {
		return err
	}
	maxExecutions := cfg.GraphQLMaxExecutions
	if maxExecutions == 0 {
		maxExecutions = 2 * int(store.Pool().Config().MaxConns)
	}
	gql := resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{
		TrustedDocuments: trusted, Traced: tp != nil, MaxExecutions: maxExecutions,
		Streams: streams, MaxStreamsPerClient: cfg.GraphQLMaxStreamsPerClient,
		MaxSubscriptionsPerConnection: cfg.GraphQLMaxSubscriptionsPerConnection, Log: log, Introspection: cfg.GraphQLIntrospection, ComplexityLimit: cfg.GraphQLComplexity,
		Bounds: resolvers.Bounds{Tokens: cfg.GraphQLMaxTokens, Depth: cfg.GraphQLMaxDepth, Fields: cfg.GraphQLMaxFields,
			Aliases: cfg.GraphQLMaxAliases, RootFields: cfg.GraphQLMaxRootFields},
		QueryCacheBytes: cfg.GraphQLQueryCacheBytes, RateLimiter: guard,
		MaxBodyBytes: edge.MaxBodyBytes, RequestID: edge.RequestID,
		Executed: executedCounter(metrics), FellBack: fallbackCounter(metrics),
	})
	handler := rest.NewHandler(rest.Deps{
		Service: svc, Log: log, Metrics: metrics, PublicBaseURL: cfg.PublicBaseURL,
		CORSOrigins: cfg.CORSAllowedOrigins, RequestTimeout: cfg.RequestTimeout, GraphQL: gql, Extra: h.extra,
		Playground: playground.Handler(trusted.Mode() != resolvers.TrustedEnforce),
		PortalPath: portalPath(cfg.PortalBaseURL), Portal: portal.Handler(portalPath(cfg.PortalBaseURL)),
		Guard: guard, TrustedProxies: cfg.TrustedProxies, Draining: &draining, StaleKey: &staleKey,
		Tracing: tp, Propagator: prop,
	})

	public, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on LISTEN_ADDR: %w", err)
	}
	public = edge.LimitConnections(public, edge.ConnLimits{Total: cfg.HTTPMaxConnections, PerClient: cfg.HTTPMaxConnectionsPerClient,
		Trusted: cfg.TrustedProxies}, metrics.Registry)
	metricsLn, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		public.Close()
		return fmt.Errorf("listen on METRICS_ADDR: %w", err)
	}
	// SECURITY: every phase of a connection has a deadline, so a client
	// that sends slowly (or not at all) holds its goroutine for a bounded
	// time: headers, the whole request, the response, and idleness.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout, ReadTimeout: cfg.HTTPReadTimeout,
		WriteTimeout: cfg.HTTPWriteTimeout, IdleTimeout: cfg.HTTPIdleTimeout, MaxHeaderBytes: cfg.HTTPMaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	metricsSrv := &http.Server{Handler: metrics.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errs := make(chan error, 3)
	radiusCtx, stopRadius := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRadius()
	if cfg.RadiusAddr != "" {
		conn, err := net.ListenPacket("udp", cfg.RadiusAddr)
		if err != nil {
			public.Close()
			metricsLn.Close()
			return fmt.Errorf("listen on RADIUS_ADDR: %w", err)
		}
		acct, err := net.ListenPacket("udp", cfg.RadiusAcctAddr)
		if err != nil {
			conn.Close()
			public.Close()
			metricsLn.Close()
			return fmt.Errorf("listen on RADIUS_ACCT_ADDR: %w", err)
		}
		ropts := radius.Options{Log: log, Registry: metrics.Registry,
			PerNAS: cfg.RadiusNASRate, PerNASBurst: int(2 * cfg.RadiusNASRate), Global: cfg.RadiusRate, GlobalBurst: int(2 * cfg.RadiusRate),
			Tracing: tp}
		if cfg.RadSecAddr != "" {
			cert, err := tls.LoadX509KeyPair(cfg.RadSecCertFile, cfg.RadSecKeyFile)
			if err != nil {
				conn.Close()
				acct.Close()
				public.Close()
				metricsLn.Close()
				return fmt.Errorf("RADSEC_CERT_FILE, RADSEC_KEY_FILE: %w", err)
			}
			ln, err := net.Listen("tcp", cfg.RadSecAddr)
			if err != nil {
				conn.Close()
				acct.Close()
				public.Close()
				metricsLn.Close()
				return fmt.Errorf("listen on RADSEC_ADDR: %w", err)
			}
			ropts.RadSec = &radius.RadSec{Listener: ln, Certificate: cert}
			log.Info("radsec serving", "radsec_addr", ln.Addr().String())
			if h.radsec != nil {
				h.radsec(ln.Addr().String())
			}
		}
		rs := radius.New(svc, ropts)
		go func() {
			if err := rs.Serve(radiusCtx, conn, acct); err != nil {
				errs <- fmt.Errorf("radius: %w", err)
			}
		}()
		// Changes take effect on the air: the change requests of
		// properties with access points become Disconnect-Requests.
		dw := disconnect.New(store, radius.NewDisconnecter(radius.DisconnectOptions{}), disconnect.Config{}, log, metrics.Registry)
		disconnected := make(chan struct{})
		go func() { defer close(disconnected); dw.Run(radiusCtx) }()
		defer func() { stopRadius(); <-disconnected }()
		log.Info("radius serving", "radius_addr", conn.LocalAddr().String(), "radius_acct_addr", acct.LocalAddr().String())
		if h.radius != nil {
			h.radius(conn.LocalAddr().String(), acct.LocalAddr().String())
		}
	}
	go func() { errs <- srv.Serve(public) }()
	go func() { errs <- metricsSrv.Serve(metricsLn) }()
	log.Info("portald serving", "listen_addr", public.Addr().String(), "metrics_addr", metricsLn.Addr().String(),
		"public_base_url", cfg.PublicBaseURL)
	if h.ready != nil {
		h.ready(public.Addr().String(), metricsLn.Addr().String())
	}

	select {
	case err := <-errs:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Drain first: /readyz says 503 and every response asks its client to
	// close the connection, so clients stop reusing keep-alive connections
	// while the listener still accepts; only then are idle connections
	// closed (a client that sends on a connection the server is closing gets
	// EOF, and does not retry a POST).
	log.Info("shutting down", "drain", cfg.ShutdownDrain.String(), "grace", cfg.ShutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	draining.Store(true)
	endStreams() // subscriptions end; their clients reconnect to another replica
	<-time.After(cfg.ShutdownDrain)
	err = srv.Shutdown(shutdownCtx)
	stopRadius()
	_ = metricsSrv.Shutdown(shutdownCtx)
	if err != nil {
		return fmt.Errorf("shutdown: requests still running after SHUTDOWN_GRACE: %w", err)
	}
	log.Info("stopped")
	return nil
}

// limiters are the buckets a replica charges.
type limiters struct {
	properties, clients ratelimit.Limiter
	// failedLogins is the fleet's failed-login budget (nil: each replica
	// keeps its own).
	failedLogins ratelimit.Limiter
}

// newLimiters are the shared limiters of property buckets, of client
// address buckets and of failed logins: in Redis when REDIS_URL is set
// (with per-replica fallback), in memory otherwise (failed logins are
// then the guard's own, per replica).
func newLimiters(cfg config.Config, log *slog.Logger, m *edge.Metrics, tp trace.TracerProvider) (lims limiters, closeFn func(), err error) {
	shape := ratelimit.Config{Burst: cfg.RateLimitBurst, PerSecond: cfg.RateLimitPerSecond}
	clientShape := ratelimit.Config{Burst: cfg.ClientRateLimitBurst, PerSecond: cfg.ClientRateLimitPerSecond}
	degraded := ratelimit.DegradedGauge(m.Registry)
	if cfg.RedisURL == "" {
		return limiters{properties: ratelimit.NewMemory(shape, nil, 0), clients: ratelimit.NewMemory(clientShape, nil, 0)}, func() {}, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return lims, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 250*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond
	opts.MaxRetries = 1            // one retry replaces a pooled connection that a Redis restart broke
	redis.SetLogger(redisLog{log}) // go-redis logs through slog, as JSON, at debug level
	client := redis.NewClient(opts)
	if tp != nil {
		// A span per limiter call; its keys (property ids, client
		// addresses) stay out of the spans.
		if err := redisotel.InstrumentTracing(client, redisotel.WithTracerProvider(tp), redisotel.WithDBStatement(false),
			redisotel.WithDialFilter(true)); err != nil {
			return lims, nil, fmt.Errorf("tracing Redis: %w", err)
		}
	}
	log.Info("rate limiter: buckets shared in Redis", "addr", opts.Addr)
	return limiters{properties: ratelimit.NewRedis(client, shape, log, degraded), clients: ratelimit.NewRedis(client, clientShape, log, degraded),
		failedLogins: ratelimit.NewRedis(client, ratelimit.FailedLogins, log, degraded)}, func() { _ = client.Close() }, nil
}

// redisLog adapts slog to go-redis's logger; the limiter itself reports
// Redis outages (once per interval).
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// migrateWithRetry applies migrations, waiting up to a minute for a
// database that is still starting.
func migrateWithRetry(ctx context.Context, store *db.DB, log *slog.Logger) error {
	deadline := time.Now().Add(time.Minute)
	for {
		v, err := store.Migrate(ctx)
		if err == nil {
			log.Info("schema migrated", "version", v)
			return nil
		}
		if model.ErrorCode(err) != model.CodeUnavailable || time.Now().After(deadline) {
			return fmt.Errorf("migrate: %w", err)
		}
		log.Warn("database not reachable yet; retrying", "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// executedCounter counts GraphQL operations by the executor that ran them
// (direct or gqlgen: see resolvers/direct.go).
// fallbackCounter counts the queries the direct executor handed to gqlgen's
// by the field it has no case for.
func fallbackCounter(m *edge.Metrics) func(string) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portal_graphql_direct_fallbacks_total", Help: "Queries the direct executor handed to gqlgen's, by the field it has no case for (Type.field).",
	}, []string{"field"})
	m.Registry.MustRegister(c)
	return func(field string) { c.WithLabelValues(field).Inc() }
}

func executedCounter(m *edge.Metrics) func(string) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portal_graphql_operations_total", Help: "GraphQL operations by the executor that ran them (direct or gqlgen).",
	}, []string{"executor"})
	m.Registry.MustRegister(c)
	direct, gqlgen := c.WithLabelValues("direct"), c.WithLabelValues("gqlgen")
	return func(executor string) {
		if executor == "direct" {
			direct.Inc()
		} else {
			gqlgen.Inc()
		}
	}
}

// startRelay runs the outbox relay when NATS_URL is set (see db/relay):
// the connection retries for ever, so a broker that is down at start or
// goes away later only delays publication. It returns the function that
// stops it.
func startRelay(ctx context.Context, cfg config.Config, store *db.DB, log *slog.Logger, m *edge.Metrics, tp trace.TracerProvider) (func(), error) {
	if cfg.NATSURL == "" {
		log.Info("outbox relay off (NATS_URL unset): change requests stay PENDING")
		return func() {}, nil
	}
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("portald"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second), nats.Timeout(2*time.Second), nats.ReconnectBufSize(-1))
	if err != nil {
		return nil, fmt.Errorf("NATS_URL: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("NATS_URL: %w", err)
	}
	r, err := relay.New(store, js, relay.Config{Stream: cfg.NATSStream, SubjectPrefix: cfg.NATSSubjectPrefix, Tracing: tp,
		RepublishAfter: cfg.OutboxRepublishAfter}, log, m.Registry)
	if err != nil {
		nc.Close()
		return nil, err
	}
	relayCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); r.Run(relayCtx) }()
	log.Info("outbox relay on", "stream", cfg.NATSStream, "subjects", cfg.NATSSubjectPrefix+".>")
	return func() { cancel(); <-done; nc.Close() }, nil
}

// outboxCollector exposes the outbox's gauges, read at each scrape:
// change requests in flight by status, the age of the oldest pending one
// and the time since the oldest published one was published. Completed requests are counted as they complete
// (portal_outbox_completion_seconds), not by counting the table.
type outboxCollector struct{ store *db.DB }

var (
	outboxRequests = prometheus.NewDesc("portal_outbox_requests", "Change requests in flight (PENDING, PUBLISHED) by status.", []string{"status"}, nil)
	outboxOldest   = prometheus.NewDesc("portal_outbox_oldest_pending_seconds", "Age of the oldest PENDING change request (0 when none).", nil, nil)
	outboxStuck    = prometheus.NewDesc("portal_outbox_oldest_published_seconds",
		"Time since the oldest PUBLISHED change request was published, with no result from the Wi-Fi side yet (0 when none).", nil, nil)
)

func (outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxRequests
	ch <- outboxOldest
	ch <- outboxStuck
}

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.store.OutboxStats(ctx)
	if err != nil {
		return // the database's own metrics say it is away
	}
	ch <- prometheus.MustNewConstMetric(outboxRequests, prometheus.GaugeValue, float64(s.Pending), string(model.ChangePending))
	ch <- prometheus.MustNewConstMetric(outboxRequests, prometheus.GaugeValue, float64(s.Published), string(model.ChangePublished))
	ch <- prometheus.MustNewConstMetric(outboxOldest, prometheus.GaugeValue, s.OldestPending.Seconds())
	ch <- prometheus.MustNewConstMetric(outboxStuck, prometheus.GaugeValue, s.OldestPublished.Seconds())
}

// completionHistogram observes the time from a change request's creation
// to the Wi-Fi side's result, by result.
func completionHistogram(m *edge.Metrics) func(model.ChangeStatus, time.Duration) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portal_outbox_completion_seconds",
		Help:    "Time from a change request's creation to the Wi-Fi side's result, by result.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"result"})
	m.Registry.MustRegister(h)
	h.WithLabelValues(string(model.ChangeApplied)) // both series exist from the start (dashboards, rate())
	h.WithLabelValues(string(model.ChangeFailed))
	return func(result model.ChangeStatus, d time.Duration) {
		h.WithLabelValues(string(result)).Observe(d.Seconds())
	}
}

// rekeyWatch passes revocation notices on and calls rekeyed on a "rekey"
// notice (db.Rekey sends one at commit).
type rekeyWatch struct {
	db.AuthListener
	rekeyed func()
}

func (w rekeyWatch) AuthChanged(kind string, id uuid.UUID) {
	if kind == "rekey" {
		w.rekeyed()
		return
	}
	w.AuthListener.AuthChanged(kind, id)
}

// ListenerUp checks the key again whenever the notices (re)start: a rekey
// committed before LISTEN was in place, or while the connection was away,
// sent a notice nobody heard.
func (w rekeyWatch) ListenerUp(up bool) {
	w.AuthListener.ListenerUp(up)
	if up {
		w.rekeyed()
	}
}

// trustedDocuments are the resident page's and portal-wifisync's documents
// and GRAPHQL_TRUSTED_DOCUMENTS_FILE's.
func trustedDocuments(cfg config.Config) (*resolvers.TrustedDocuments, error) {
	manifests := [][]byte{portal.Manifest(), consumer.Manifest()}
	if cfg.GraphQLTrustedDocumentsFile != "" {
		b, err := os.ReadFile(cfg.GraphQLTrustedDocumentsFile)
		if err != nil {
			return nil, fmt.Errorf("GRAPHQL_TRUSTED_DOCUMENTS_FILE: %w", err)
		}
		manifests = append(manifests, b)
	}
	t, err := resolvers.NewTrustedDocuments(resolvers.TrustedMode(cfg.GraphQLTrustedDocuments), manifests...)
	if err != nil {
		return nil, fmt.Errorf("GRAPHQL_TRUSTED_DOCUMENTS_FILE: %w", err)
	}
	return t, nil
}

// portalPath is the path of PORTAL_BASE_URL, where the page is served.
func portalPath(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Path == "" {
		return "/portal/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		return u.Path + "/"
	}
	return u.Path
}
