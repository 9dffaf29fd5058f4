// Package config reads the resident portal's configuration from environment
// variables (documented in the README), validates every one at start and
// reports all problems at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/residentportal/bff/graph/model"
)

// Config is the validated configuration of portald and portalctl.
type Config struct {
	DatabaseURL   string
	ListenAddr    string
	MetricsAddr   string
	PublicBaseURL string
	PortalBaseURL string
	SecretKey     string
	// SecretKeyPrevious is the key being rekeyed away from: read under it
	// (and written under it until the rekey commits) while servers restart
	// with the new SECRET_KEY. Empty outside a rekey.
	SecretKeyPrevious  string
	TokenTTL           time.Duration
	RedisURL           string
	RateLimitBurst     int
	RateLimitPerSecond float64
	// The bucket of a client address, for calls without a recognised credential.
	ClientRateLimitBurst     int
	ClientRateLimitPerSecond float64
	TrustedProxies           []netip.Prefix
	CORSAllowedOrigins       []string
	GraphQLIntrospection     bool
	GraphQLComplexity        int
	// GraphQLTrustedDocuments is off, allow or enforce (SPEC §8.3), and
	// GraphQLTrustedDocumentsFile a manifest to add to the page's.
	GraphQLTrustedDocuments, GraphQLTrustedDocumentsFile string
	// RadiusAddr turns the RADIUS server on (UDP, SPEC §9.1);
	// RadiusAcctAddr is its accounting port (default: the next port).
	RadiusAddr, RadiusAcctAddr string
	// RadSecAddr turns RadSec on (RADIUS over TLS, TCP, with RADIUS_ADDR's
	// server); RadSecCertFile and RadSecKeyFile are its certificate and key.
	RadSecAddr, RadSecCertFile, RadSecKeyFile string
	// RadiusNASRate and RadiusRate are the requests a second one access
	// point and all of them may have decided (bursts of twice as many).
	RadiusNASRate, RadiusRate float64
	// NATSURL turns the outbox relay on; NATSStream and NATSSubjectPrefix
	// name its stream and subjects.
	NATSURL, NATSStream, NATSSubjectPrefix string
	// OutboxRetention is how long APPLIED and FAILED change requests are
	// kept after they were completed (0: for ever).
	OutboxRetention time.Duration
	// OutboxRepublishAfter is how long a published change request may go
	// unanswered by the Wi-Fi side before the relay publishes it again.
	OutboxRepublishAfter time.Duration
	// The text bounds of a GraphQL operation and the parsed-query cache.
	GraphQLMaxTokens, GraphQLMaxDepth, GraphQLMaxFields, GraphQLMaxAliases, GraphQLMaxRootFields int
	GraphQLQueryCacheBytes                                                                       int
	// GraphQLMaxExecutions bounds the reads the direct executor runs at
	// once (0: twice the database pool's size).
	GraphQLMaxExecutions int
	// Subscription bounds.
	GraphQLMaxStreamsPerClient, GraphQLMaxSubscriptionsPerConnection int
	RequestTimeout                                                   time.Duration
	// DatabaseStatementTimeout bounds each statement (below
	// REQUEST_TIMEOUT): a stalled database connection is given up and the
	// request answers UNAVAILABLE.
	DatabaseStatementTimeout time.Duration
	// HTTP server timeouts and the header size limit.
	HTTPReadHeaderTimeout, HTTPReadTimeout, HTTPWriteTimeout, HTTPIdleTimeout time.Duration
	HTTPMaxHeaderBytes                                                        int
	// Open connections on the public listener: in all, and per client
	// address (trusted proxies count in the total only).
	HTTPMaxConnections, HTTPMaxConnectionsPerClient int
	ShutdownGrace, ShutdownDrain                    time.Duration
	LogLevel                                        slog.Level
}

// DefaultDatabaseURL is the local PostgreSQL used when DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/resident_portal?sslmode=disable"

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := str(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive Go duration such as 10s", name, v))
			return def
		}
		return d
	}
	durOrOff := func(name string, def time.Duration) time.Duration {
		if str(name, "") == "off" {
			return 0
		}
		return dur(name, def)
	}
	boolean := func(name string, def bool) bool {
		v := str(name, "")
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", name, v))
			return def
		}
		return b
	}
	positive := func(name string, def int) int {
		v := str(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive whole number", name, v))
			return def
		}
		return n
	}
	rate := func(name string, def float64) float64 {
		v := str(name, "")
		if v == "" {
			return def
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive number", name, v))
			return def
		}
		return f
	}
	c := Config{
		DatabaseURL:                          str("DATABASE_URL", DefaultDatabaseURL),
		ListenAddr:                           str("LISTEN_ADDR", ":8080"),
		MetricsAddr:                          str("METRICS_ADDR", "127.0.0.1:9090"),
		SecretKey:                            getenv("SECRET_KEY"),
		SecretKeyPrevious:                    getenv("SECRET_KEY_PREVIOUS"),
		TokenTTL:                             dur("TOKEN_TTL", 12*time.Hour),
		RedisURL:                             str("REDIS_URL", ""),
		NATSURL:                              str("NATS_URL", ""),
		RadiusAddr:                           str("RADIUS_ADDR", ""),
		RadiusAcctAddr:                       str("RADIUS_ACCT_ADDR", ""),
		RadSecAddr:                           str("RADSEC_ADDR", ""),
		RadSecCertFile:                       str("RADSEC_CERT_FILE", ""),
		RadSecKeyFile:                        str("RADSEC_KEY_FILE", ""),
		NATSStream:                           str("NATS_STREAM", "PORTAL_CHANGES"),
		NATSSubjectPrefix:                    str("NATS_SUBJECT_PREFIX", "portal.changes"),
		OutboxRetention:                      durOrOff("OUTBOX_RETENTION", 30*24*time.Hour),
		OutboxRepublishAfter:                 dur("OUTBOX_REPUBLISH_AFTER", time.Hour),
		RateLimitBurst:                       positive("RATE_LIMIT_BURST", 100),
		ClientRateLimitBurst:                 positive("CLIENT_RATE_LIMIT_BURST", 30),
		GraphQLIntrospection:                 boolean("GRAPHQL_INTROSPECTION", true),
		GraphQLComplexity:                    positive("GRAPHQL_COMPLEXITY_LIMIT", 50000),
		GraphQLTrustedDocuments:              str("GRAPHQL_TRUSTED_DOCUMENTS", "allow"),
		GraphQLTrustedDocumentsFile:          str("GRAPHQL_TRUSTED_DOCUMENTS_FILE", ""),
		GraphQLMaxTokens:                     positive("GRAPHQL_MAX_TOKENS", 5000),
		GraphQLMaxDepth:                      positive("GRAPHQL_MAX_DEPTH", 15),
		GraphQLMaxFields:                     positive("GRAPHQL_MAX_FIELDS", 500),
		GraphQLMaxAliases:                    positive("GRAPHQL_MAX_ALIASES", 30),
		GraphQLMaxRootFields:                 positive("GRAPHQL_MAX_ROOT_FIELDS", 20),
		GraphQLQueryCacheBytes:               positive("GRAPHQL_QUERY_CACHE_BYTES", 32<<20),
		GraphQLMaxExecutions:                 positive("GRAPHQL_MAX_EXECUTIONS", 0),
		GraphQLMaxStreamsPerClient:           positive("GRAPHQL_MAX_STREAMS_PER_CLIENT", 64),
		GraphQLMaxSubscriptionsPerConnection: positive("GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION", 16),
		RequestTimeout:                       dur("REQUEST_TIMEOUT", 10*time.Second),
		DatabaseStatementTimeout:             dur("DATABASE_STATEMENT_TIMEOUT", 1500*time.Millisecond),
		HTTPReadHeaderTimeout:                dur("HTTP_READ_HEADER_TIMEOUT", 5*time.Second),
		HTTPReadTimeout:                      dur("HTTP_READ_TIMEOUT", 15*time.Second),
		HTTPWriteTimeout:                     dur("HTTP_WRITE_TIMEOUT", 30*time.Second),
		HTTPIdleTimeout:                      dur("HTTP_IDLE_TIMEOUT", 60*time.Second),
		HTTPMaxHeaderBytes:                   positive("HTTP_MAX_HEADER_BYTES", 256<<10),
		HTTPMaxConnections:                   positive("HTTP_MAX_CONNECTIONS", 10000),
		HTTPMaxConnectionsPerClient:          positive("HTTP_MAX_CONNECTIONS_PER_CLIENT", 256),
		ShutdownGrace:                        dur("SHUTDOWN_GRACE", 15*time.Second),
		ShutdownDrain:                        dur("SHUTDOWN_DRAIN", time.Second),
	}
	if c.DatabaseStatementTimeout >= c.RequestTimeout {
		errs = append(errs, fmt.Errorf("DATABASE_STATEMENT_TIMEOUT: %v must be shorter than REQUEST_TIMEOUT (%v)", c.DatabaseStatementTimeout, c.RequestTimeout))
	}
	if c.ShutdownDrain >= c.ShutdownGrace {
		errs = append(errs, fmt.Errorf("SHUTDOWN_DRAIN: %v must be shorter than SHUTDOWN_GRACE (%v)", c.ShutdownDrain, c.ShutdownGrace))
	}
	c.RateLimitPerSecond = rate("RATE_LIMIT_PER_SECOND", 80)
	c.RadiusNASRate = rate("RADIUS_NAS_RATE_LIMIT_PER_SECOND", 200)
	c.RadiusRate = rate("RADIUS_RATE_LIMIT_PER_SECOND", 2000)
	c.ClientRateLimitPerSecond = rate("CLIENT_RATE_LIMIT_PER_SECOND", 10)
	if c.RadiusAddr != "" {
		host, port, err := net.SplitHostPort(c.RadiusAddr)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil || perr != nil || n < 0 || n > 65534:
			errs = append(errs, fmt.Errorf("RADIUS_ADDR: %q is not host:port", c.RadiusAddr))
		case c.RadiusAcctAddr == "" && n == 0: // a port of the system's choosing: another for accounting
			c.RadiusAcctAddr = net.JoinHostPort(host, "0")
		case c.RadiusAcctAddr == "":
			c.RadiusAcctAddr = net.JoinHostPort(host, strconv.Itoa(n+1))
		}
		if _, _, err := net.SplitHostPort(c.RadiusAcctAddr); c.RadiusAcctAddr != "" && err != nil {
			errs = append(errs, fmt.Errorf("RADIUS_ACCT_ADDR: %q is not host:port", c.RadiusAcctAddr))
		}
	}
	if c.RadSecAddr != "" {
		if _, _, err := net.SplitHostPort(c.RadSecAddr); err != nil {
			errs = append(errs, fmt.Errorf("RADSEC_ADDR: %q is not host:port", c.RadSecAddr))
		}
		if c.RadiusAddr == "" {
			errs = append(errs, fmt.Errorf("RADSEC_ADDR: RadSec needs the RADIUS server on (RADIUS_ADDR)"))
		}
		if c.RadSecCertFile == "" || c.RadSecKeyFile == "" {
			errs = append(errs, fmt.Errorf("RADSEC_ADDR: RADSEC_CERT_FILE and RADSEC_KEY_FILE (the server's certificate and key, PEM) are required"))
		}
	}
	for _, a := range []struct{ name, v string }{{"LISTEN_ADDR", c.ListenAddr}, {"METRICS_ADDR", c.MetricsAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", a.name, a.v))
		}
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		errs = append(errs, errors.New("DATABASE_URL: not a postgres:// URL"))
	}
	if c.SecretKey == "" {
		errs = append(errs, errors.New("SECRET_KEY: required (at least 32 characters; `make run` generates one for development)"))
	} else if len(c.SecretKey) < 32 {
		errs = append(errs, errors.New("SECRET_KEY: must be at least 32 characters"))
	}
	if c.SecretKeyPrevious != "" && len(c.SecretKeyPrevious) < 32 {
		errs = append(errs, errors.New("SECRET_KEY_PREVIOUS: must be at least 32 characters"))
	} else if c.SecretKeyPrevious != "" && c.SecretKeyPrevious == c.SecretKey {
		errs = append(errs, errors.New("SECRET_KEY_PREVIOUS: is SECRET_KEY itself (leave it unset outside a rekey)"))
	}
	port := "8080"
	if _, p, err := net.SplitHostPort(c.ListenAddr); err == nil && p != "" {
		port = p
	}
	c.PublicBaseURL = strings.TrimRight(str("PUBLIC_BASE_URL", "http://localhost:"+port), "/")
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("PUBLIC_BASE_URL: %q is not an absolute http(s) URL", c.PublicBaseURL))
	}
	c.PortalBaseURL = str("PORTAL_BASE_URL", c.PublicBaseURL+"/portal/")
	if u, err := url.Parse(c.PortalBaseURL); err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("PORTAL_BASE_URL: %q is not an absolute URL", c.PortalBaseURL))
	}
	switch c.GraphQLTrustedDocuments {
	case "off", "allow", "enforce":
	default:
		errs = append(errs, fmt.Errorf("GRAPHQL_TRUSTED_DOCUMENTS: %q is not off, allow or enforce", c.GraphQLTrustedDocuments))
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			errs = append(errs, errors.New("REDIS_URL: not a redis:// URL"))
		}
	}
	if c.NATSURL != "" {
		if u, err := url.Parse(c.NATSURL); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") {
			errs = append(errs, errors.New("NATS_URL: not a nats:// URL"))
		}
	}
	for _, p := range splitList(getenv("TRUSTED_PROXIES")) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %q is neither an IP address nor a CIDR range", p))
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	for _, o := range splitList(getenv("CORS_ALLOWED_ORIGINS")) {
		u, err := url.Parse(o)
		if o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || u.Path != "") {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin such as https://portal.example.com", o))
			continue
		}
		c.CORSAllowedOrigins = append(c.CORSAllowedOrigins, o)
	}
	if v := str("LOG_LEVEL", "info"); c.LogLevel.UnmarshalText([]byte(v)) != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not debug, info, warn or error", v))
	}
	return c, errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// PortalURL is a unit's portal link: PORTAL_BASE_URL with the property id and
// the URL-encoded portal secret.
func (c Config) PortalURL(propertyID, secret string) string {
	sep := "?"
	if strings.Contains(c.PortalBaseURL, "?") {
		sep = "&"
	}
	return c.PortalBaseURL + sep + "propertyId=" + url.QueryEscape(propertyID) + "&auth=" + url.QueryEscape(secret)
}

// Keyring derives the keys of SECRET_KEY and, during a rekey, of
// SECRET_KEY_PREVIOUS.
func (c Config) Keyring() (*model.Keyring, error) {
	k, err := model.NewKeyring(c.SecretKey)
	if err != nil {
		return nil, err
	}
	return k.WithPrevious(c.SecretKeyPrevious)
}
