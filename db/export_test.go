package db

import (
	"context"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

// Test hooks into unexported parts, for the external test package.

// InTx runs fn in a transaction with the store's error mapping.
func (db *DB) InTx(ctx context.Context, fn func(pgx.Tx) error) error { return db.inTx(ctx, "test", fn) }

// SetGenerator replaces the passphrase generator.
func (db *DB) SetGenerator(f func(int) string) { db.generate = f }

// CodeOf is the domain code a driver error maps to.
func CodeOf(err error) model.Code { return codeOf(err) }

// Dialer is the dialer the pool connects with.
func Dialer() *net.Dialer { return dialer() }
