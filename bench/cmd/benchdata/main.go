// Command benchdata fills an empty, migrated database with the benchmark's
// dataset and prints what the load generator needs as JSON: a property of
// 2,000 units (each with its UNIT and GUEST users, 0–3 LINKED users and 0–6
// devices per user) with a manager key, and a property of 10,000 units for
// paging. The data is the same on every run (fixed random seed).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math/rand/v2"
	"os"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

func main() {
	ctx := context.Background()
	store, keys := bench.Store(ctx, os.Getenv("DATABASE_URL"))
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	out := bench.Data{Counts: map[string]int{}}
	t, f := true, false
	nameA, nameB := "Bench Towers", "Paging Park"
	a, err := store.CreateProperty(ctx, db.PropertyInput{Name: &nameA, AllowSeparateGuestSecret: &t, TenantSetDpsk: &t})
	if err != nil {
		log.Fatal(err)
	}
	b, err := store.CreateProperty(ctx, db.PropertyInput{Name: &nameB, AllowSeparateGuestSecret: &f})
	if err != nil {
		log.Fatal(err)
	}
	out.Property, out.PagingProp = a.ID, b.ID

	var units, users, devices [][]any
	seq := 0
	pass := func() string { seq++; return fmt.Sprintf("bench-%07d-%08x", seq, rnd.Uint32()) }
	addUser := func(unitID, propertyID uuid.UUID, typ model.UnitUserType, name string) uuid.UUID {
		id := uuid.New()
		p := pass()
		users = append(users, []any{id, unitID, propertyID, string(typ), name, keys.Encrypt(p, id[:]), keys.Digest(p)})
		return id
	}
	addUnit := func(propertyID uuid.UUID, number string, withGuest bool, devicesPerUser func() int, linked int) (uuid.UUID, string, uuid.UUID) {
		id := uuid.New()
		secret := model.MintPortalSecret()
		units = append(units, []any{id, propertyID, number, keys.Encrypt(secret, id[:]), keys.Digest(secret)})
		owners := []uuid.UUID{addUser(id, propertyID, model.UserTypeUnit, "Resident "+number)}
		if withGuest {
			owners = append(owners, addUser(id, propertyID, model.UserTypeGuest, "Guest"))
		}
		for i := range linked {
			owners = append(owners, addUser(id, propertyID, model.UserTypeLinked, fmt.Sprintf("Member %d", i+1)))
		}
		for _, o := range owners {
			for range devicesPerUser() {
				mac := make([]byte, 6)
				for i := range mac {
					mac[i] = byte(rnd.UintN(256))
				}
				mac[0] = 0x02
				devices = append(devices, []any{uuid.New(), id, o, model.FormatMAC(mac), "Device", "Linux"})
			}
		}
		return id, secret, owners[len(owners)-1]
	}
	for i := 1; i <= 2000; i++ {
		id, secret, user := addUnit(a.ID, fmt.Sprintf("%04d", i), true, func() int { return rnd.IntN(7) }, rnd.IntN(4))
		if i <= 50 {
			out.Units = append(out.Units, id)
			out.PortalSecrets = append(out.PortalSecrets, secret)
			out.Users = append(out.Users, user)
		}
	}
	for i := 1; i <= 10000; i++ {
		addUnit(b.ID, fmt.Sprintf("%05d", i), false, func() int { return 0 }, 0)
	}
	out.DeepAfter = "09000"
	err = pgx.BeginFunc(ctx, store.Pool(), func(tx pgx.Tx) error {
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"units", []string{"id", "property_id", "number", "portal_secret_cipher", "portal_secret_digest"}, units},
			{"unit_users", []string{"id", "unit_id", "property_id", "type", "user_name", "passphrase_cipher", "passphrase_digest"}, users},
			{"devices", []string{"id", "unit_id", "user_id", "mac_address", "display_name", "os_type"}, devices},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", c.table, err)
			}
			out.Counts[c.table] = len(c.rows)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := store.Pool().Exec(ctx, `ANALYZE`); err != nil {
		log.Fatal(err)
	}
	ka, err := store.CreateManagerKey(ctx, a.ID)
	if err != nil {
		log.Fatal(err)
	}
	kb, err := store.CreateManagerKey(ctx, b.ID)
	if err != nil {
		log.Fatal(err)
	}
	out.ManagerKey, out.PagingKey = ka.Key, kb.Key
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		log.Fatal(err)
	}
}
