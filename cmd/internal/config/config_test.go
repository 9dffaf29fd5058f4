package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const key = "0123456789abcdef0123456789abcdef"

func TestDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"SECRET_KEY": key}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != ":8080" || c.MetricsAddr != "127.0.0.1:9090" || c.TokenTTL != 12*time.Hour ||
		c.RateLimitBurst != 100 || c.RateLimitPerSecond != 80 || c.RequestTimeout != 10*time.Second ||
		c.ShutdownGrace != 15*time.Second || !c.GraphQLIntrospection || c.PublicBaseURL != "http://localhost:8080" ||
		c.PortalBaseURL != "http://localhost:8080/portal/" || c.DatabaseURL != DefaultDatabaseURL {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{"SECRET_KEY": key, "LISTEN_ADDR": "0.0.0.0:9000", "PUBLIC_BASE_URL": "https://wifi.example.com/",
		"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1", "CORS_ALLOWED_ORIGINS": "https://a.example.com,https://b.example.com",
		"GRAPHQL_INTROSPECTION": "false", "RATE_LIMIT_BURST": "5", "RATE_LIMIT_PER_SECOND": "2.5", "LOG_LEVEL": "debug",
		"REDIS_URL": "redis://127.0.0.1:6379/0"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicBaseURL != "https://wifi.example.com" || c.PortalBaseURL != "https://wifi.example.com/portal/" ||
		len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != netip.MustParsePrefix("192.168.1.1/32") ||
		len(c.CORSAllowedOrigins) != 2 || c.GraphQLIntrospection || c.RateLimitBurst != 5 || c.RateLimitPerSecond != 2.5 {
		t.Fatalf("config = %+v", c)
	}
	if got := c.PortalURL("p-1", "a+b/c"); got != "https://wifi.example.com/portal/?propertyId=p-1&auth=a%2Bb%2Fc" {
		t.Fatalf("PortalURL = %s", got)
	}
}

func TestErrorsNameEveryVariable(t *testing.T) {
	_, err := Load(env(map[string]string{"TOKEN_TTL": "-1s", "REQUEST_TIMEOUT": "soon", "RATE_LIMIT_BURST": "0",
		"RATE_LIMIT_PER_SECOND": "x", "TRUSTED_PROXIES": "not-an-ip", "CORS_ALLOWED_ORIGINS": "example.com",
		"GRAPHQL_INTROSPECTION": "maybe", "LOG_LEVEL": "loud", "DATABASE_URL": "mysql://x", "PUBLIC_BASE_URL": "ftp://x",
		"REDIS_URL": "http://x", "METRICS_ADDR": "9090", "GRAPHQL_COMPLEXITY_LIMIT": "-3"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"SECRET_KEY", "TOKEN_TTL", "REQUEST_TIMEOUT", "RATE_LIMIT_BURST", "RATE_LIMIT_PER_SECOND",
		"TRUSTED_PROXIES", "CORS_ALLOWED_ORIGINS", "GRAPHQL_INTROSPECTION", "LOG_LEVEL", "DATABASE_URL", "PUBLIC_BASE_URL",
		"REDIS_URL", "METRICS_ADDR", "GRAPHQL_COMPLEXITY_LIMIT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestHardeningLimits(t *testing.T) {
	c, err := Load(env(map[string]string{"SECRET_KEY": key}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ClientRateLimitBurst: 30, ClientRateLimitPerSecond: 10, GraphQLMaxTokens: 5000, GraphQLMaxDepth: 15,
		GraphQLMaxFields: 500, GraphQLMaxAliases: 30, GraphQLMaxRootFields: 20, GraphQLQueryCacheBytes: 32 << 20,
		HTTPReadHeaderTimeout: 5 * time.Second, HTTPReadTimeout: 15 * time.Second, HTTPWriteTimeout: 30 * time.Second,
		HTTPIdleTimeout: 60 * time.Second, HTTPMaxHeaderBytes: 256 << 10, HTTPMaxConnections: 10000, HTTPMaxConnectionsPerClient: 256,
		ShutdownDrain: time.Second}
	got := Config{ClientRateLimitBurst: c.ClientRateLimitBurst, ClientRateLimitPerSecond: c.ClientRateLimitPerSecond,
		GraphQLMaxTokens: c.GraphQLMaxTokens, GraphQLMaxDepth: c.GraphQLMaxDepth, GraphQLMaxFields: c.GraphQLMaxFields,
		GraphQLMaxAliases: c.GraphQLMaxAliases, GraphQLMaxRootFields: c.GraphQLMaxRootFields, GraphQLQueryCacheBytes: c.GraphQLQueryCacheBytes,
		HTTPReadHeaderTimeout: c.HTTPReadHeaderTimeout, HTTPReadTimeout: c.HTTPReadTimeout, HTTPWriteTimeout: c.HTTPWriteTimeout,
		HTTPIdleTimeout: c.HTTPIdleTimeout, HTTPMaxHeaderBytes: c.HTTPMaxHeaderBytes, HTTPMaxConnections: c.HTTPMaxConnections,
		HTTPMaxConnectionsPerClient: c.HTTPMaxConnectionsPerClient, ShutdownDrain: c.ShutdownDrain}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	_, err = Load(env(map[string]string{"SECRET_KEY": key, "GRAPHQL_MAX_DEPTH": "0", "CLIENT_RATE_LIMIT_PER_SECOND": "NaN",
		"HTTP_READ_TIMEOUT": "-1s", "SHUTDOWN_DRAIN": "20s", "SECRET_KEY_PREVIOUS": key, "HTTP_MAX_CONNECTIONS": "0",
		"HTTP_MAX_CONNECTIONS_PER_CLIENT": "many"}))
	for _, name := range []string{"GRAPHQL_MAX_DEPTH", "CLIENT_RATE_LIMIT_PER_SECOND", "HTTP_READ_TIMEOUT", "SHUTDOWN_DRAIN", "SECRET_KEY_PREVIOUS",
		"HTTP_MAX_CONNECTIONS", "HTTP_MAX_CONNECTIONS_PER_CLIENT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s not reported: %v", name, err)
		}
	}
}

func TestOutboxRetention(t *testing.T) {
	for _, c := range []struct {
		v    string
		want time.Duration
	}{{"", 30 * 24 * time.Hour}, {"168h", 7 * 24 * time.Hour}, {"off", 0}} {
		got, err := Load(env(map[string]string{"SECRET_KEY": key, "OUTBOX_RETENTION": c.v}))
		if err != nil || got.OutboxRetention != c.want {
			t.Fatalf("OUTBOX_RETENTION=%q: %v, %v; want %v", c.v, got.OutboxRetention, err, c.want)
		}
	}
	for _, v := range []string{"0", "-1h", "30d", "never"} {
		if _, err := Load(env(map[string]string{"SECRET_KEY": key, "OUTBOX_RETENTION": v})); err == nil || !strings.Contains(err.Error(), "OUTBOX_RETENTION") {
			t.Fatalf("OUTBOX_RETENTION=%q: %v, want an error naming it", v, err)
		}
	}
}

// RadSec needs the RADIUS server and a certificate and key.
func TestRadSec(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"RADSEC_ADDR": ":2083", "RADSEC_CERT_FILE": "c.pem", "RADSEC_KEY_FILE": "k.pem"}, "needs the RADIUS server on"},
		{map[string]string{"RADSEC_ADDR": ":2083", "RADIUS_ADDR": ":1812"}, "RADSEC_CERT_FILE and RADSEC_KEY_FILE"},
		{map[string]string{"RADSEC_ADDR": "2083", "RADIUS_ADDR": ":1812", "RADSEC_CERT_FILE": "c.pem", "RADSEC_KEY_FILE": "k.pem"}, "is not host:port"},
	} {
		c.env["SECRET_KEY"] = key
		if _, err := Load(env(c.env)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.env, err, c.want)
		}
	}
	c, err := Load(env(map[string]string{"SECRET_KEY": key, "RADIUS_ADDR": ":1812", "RADSEC_ADDR": ":2083", "RADSEC_CERT_FILE": "c.pem",
		"RADSEC_KEY_FILE": "k.pem"}))
	if err != nil || c.RadSecAddr != ":2083" || c.RadSecCertFile != "c.pem" || c.RadSecKeyFile != "k.pem" {
		t.Fatalf("%+v, %v", c, err)
	}
}
