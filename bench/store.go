package bench

import (
	"context"
	"log"
	"os"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

// Store opens the benchmark database with portald's pool settings and the
// run's SECRET_KEY, or ends the program; the keyring comes with it, for a
// program that builds a service over the store.
func Store(ctx context.Context, dbURL string) (*db.DB, *model.Keyring) {
	keys, err := model.NewKeyring(os.Getenv("SECRET_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := db.Open(ctx, dbURL, keys, db.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return store, keys
}
