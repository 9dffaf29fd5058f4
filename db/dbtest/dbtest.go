// Package dbtest gives each test a fresh PostgreSQL database cloned from a
// template that is migrated once per schema version, so tests are isolated
// and fast. The server is TEST_DATABASE_URL (default: the local PostgreSQL
// on 127.0.0.1:5432 as postgres). Without a reachable server tests skip,
// unless CI is set, where they fail.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

// DefaultAdminURL is the server used when TEST_DATABASE_URL is unset.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// TestSecretKey is the SECRET_KEY test databases are written under.
const TestSecretKey = "test-secret-key-0123456789abcdef-0123456789"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// AdminURL is the maintenance connection string of the test server.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// Keys is the keyring of TestSecretKey.
func Keys(tb testing.TB) *model.Keyring {
	tb.Helper()
	k, err := model.NewKeyring(TestSecretKey)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// NewURL creates a fresh migrated database for tb, dropped when tb ends, and
// returns its connection string.
func NewURL(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("dbtest: PostgreSQL is required in CI: %v", err)
		}
		tb.Skipf("dbtest: no PostgreSQL at TEST_DATABASE_URL (%v); skipping", err)
	}
	defer admin.Close(context.Background())

	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx, admin) })
	if templateErr != nil {
		tb.Fatalf("dbtest: template: %v", templateErr)
	}
	name := "portal_test_" + randomHex(8)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName)); err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			tb.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			tb.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	cfg, err := pgx.ParseConfig(AdminURL())
	if err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

// New opens a fresh migrated database for tb with the test keyring.
func New(tb testing.TB, opts ...db.Options) *db.DB {
	tb.Helper()
	var o db.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	d, err := db.Open(context.Background(), NewURL(tb), Keys(tb), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Close)
	return d
}

// ensureTemplate creates (once per schema, across concurrent test
// processes) a migrated template database named after the migrations' hash.
func ensureTemplate(ctx context.Context, admin *pgx.Conn) (string, error) {
	name := "portal_template_" + migrationsHash()
	// Serialise template creation across the test binaries go test runs in parallel.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return "", err
	}
	defer admin.Exec(context.Background(), `SELECT pg_advisory_unlock(727274)`)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", err
	}
	cfg, _ := pgx.ParseConfig(AdminURL())
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, building)
	keys, err := model.NewKeyring(TestSecretKey)
	if err != nil {
		return "", err
	}
	d, err := db.Open(ctx, url, keys, db.Options{})
	if err != nil {
		return "", err
	}
	_, err = d.Migrate(ctx)
	d.Close()
	if err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(db.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(db.Migrations(), path)
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
