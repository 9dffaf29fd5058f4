package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// versionTable records the applied migration version.
const versionTable = "schema_version"

// Migrate applies every pending migration (tern, under an advisory lock, so
// concurrent starts are safe) and returns the schema version.
func (db *DB) Migrate(ctx context.Context) (int32, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, wrap("db.Migrate", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), versionTable)
	if err != nil {
		return 0, wrap("db.Migrate", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("db.Migrate: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return 0, fmt.Errorf("db.Migrate: load: %w", err)
	}
	// SECURITY: a binary older than the schema (a rolling deploy, a
	// rollback) never migrates down: tern would run the newer migrations'
	// down halves and drop what the newer replicas write. It runs on the
	// newer schema as it is (migrations only add).
	if v, err := m.GetCurrentVersion(ctx); err != nil {
		return 0, wrap("db.Migrate", err)
	} else if v > int32(len(m.Migrations)) {
		return v, nil
	}
	if err := m.Migrate(ctx); err != nil {
		return 0, wrap("db.Migrate", err)
	}
	v, err := m.GetCurrentVersion(ctx)
	return v, wrap("db.Migrate", err)
}

// SchemaVersion is the number of the newest embedded migration.
func SchemaVersion() int32 {
	names, _ := fs.Glob(migrationFiles, "migrations/*.sql")
	return int32(len(names))
}

// Migrations is the embedded migration files (for tools that fingerprint the schema).
func Migrations() fs.FS { return migrationFiles }
