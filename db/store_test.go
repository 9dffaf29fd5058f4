package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

func newProperty(tb testing.TB, d *db.DB, in db.PropertyInput) model.Property {
	tb.Helper()
	if in.Name == nil {
		in.Name = dbtest.Ptr("Harbour View")
	}
	return dbtest.Must[model.Property](tb)(d.CreateProperty(context.Background(), in))
}

func newUnit(tb testing.TB, d *db.DB, propertyID uuid.UUID, number string) db.CreatedUnit {
	tb.Helper()
	return dbtest.Must[db.CreatedUnit](tb)(d.CreateUnit(context.Background(), db.NewUnit{PropertyID: propertyID, Number: number,
		Contact: model.Contact{ContactName: "Ada", Email: "ada@example.org", PhoneNumber: "+41 44 123"}}))
}

func TestCreateUnit(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)

	t.Run("OK with guest", func(t *testing.T) {
		p := newProperty(t, d, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true), PassphraseLength: dbtest.Ptr(20)})
		c := newUnit(t, d, p.ID, "101")
		if len(c.Unit.Secret) != 20 || c.Unit.GuestSecret == nil || len(*c.Unit.GuestSecret) != 20 {
			t.Fatalf("passphrases not of the property's length: %+v", c.Unit)
		}
		if *c.Unit.GuestSecret == c.Unit.Secret {
			t.Fatal("guest and unit passphrases are equal")
		}
		if len(c.PortalSecret) < 22 { // ≥ 128 bits in base64
			t.Fatalf("portal secret too short: %d", len(c.PortalSecret))
		}
		a := dbtest.Must[model.UnitAuth](t)(d.UnitAuthBySecret(ctx, p.ID, c.PortalSecret))
		if a.UnitID != c.Unit.ID || a.Status != model.UnitEnabled || !a.PortalAllowed {
			t.Fatalf("auth = %+v", a)
		}
		users, total := must2(t)(d.QueryUnitUsers(ctx, model.UserQuery{UnitID: c.Unit.ID, Limit: 10}))
		if total != 2 || len(users) != 2 {
			t.Fatalf("users = %d/%d, want 2", len(users), total)
		}
	})
	t.Run("OK without guest", func(t *testing.T) {
		p := newProperty(t, d, db.PropertyInput{})
		c := newUnit(t, d, p.ID, "101")
		if c.Unit.GuestSecret != nil || c.Unit.GuestUserID != nil || len(c.Unit.Secret) != model.DefaultPassphraseLength {
			t.Fatalf("unit = %+v", c.Unit)
		}
	})
	t.Run("ErrDuplicateNumber", func(t *testing.T) {
		p := newProperty(t, d, db.PropertyInput{})
		newUnit(t, d, p.ID, "7")
		_, err := d.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "7"})
		dbtest.WantCode(t, err, model.CodeConflict)
	})
	t.Run("ErrUnknownProperty", func(t *testing.T) {
		_, err := d.CreateUnit(ctx, db.NewUnit{PropertyID: uuid.New(), Number: "1"})
		dbtest.WantCode(t, err, model.CodeNotFound)
	})
	t.Run("ErrBadInput", func(t *testing.T) {
		p := newProperty(t, d, db.PropertyInput{})
		_, err := d.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "", Contact: model.Contact{Email: "nope", PhoneNumber: "12345678901234567"}})
		dbtest.WantCode(t, err, model.CodeBadUserInput)
		if n := len(model.ErrorFields(err)); n != 3 {
			t.Fatalf("fields = %v, want 3", model.ErrorFields(err))
		}
	})
	t.Run("ErrMaxUnits concurrently", func(t *testing.T) {
		p := newProperty(t, d, db.PropertyInput{EnforceMaxUnits: dbtest.Ptr(true), MaxUnits: dbtest.Ptr(3)})
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = d.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: fmt.Sprint(i)})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				dbtest.WantCode(t, err, model.CodeForbidden)
			}
		}
		if ok != 3 {
			t.Fatalf("%d units created, want 3", ok)
		}
	})
}

func must2(tb testing.TB) func([]model.UnitUser, int, error) ([]model.UnitUser, int) {
	return func(u []model.UnitUser, n int, err error) ([]model.UnitUser, int) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return u, n
	}
}

func TestSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)})
	c := newUnit(t, d, p.ID, "101")

	// Neither the passphrase nor the portal secret appears anywhere in clear.
	var dump []byte
	if err := d.Pool().QueryRow(ctx, `SELECT convert_to(
	    (SELECT string_agg(t::text, '|') FROM units t) || (SELECT string_agg(t::text, '|') FROM unit_users t), 'UTF8')`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{c.Unit.Secret, *c.Unit.GuestSecret, c.PortalSecret} {
		if bytes.Contains(dump, []byte(secret)) {
			t.Fatalf("secret %q stored in clear", secret[:3]+"…")
		}
	}
	// Ciphertexts are bound to their row: swapping two rows' ciphertexts fails to decrypt.
	if _, err := d.Pool().Exec(ctx, `UPDATE unit_users SET passphrase_cipher = (SELECT passphrase_cipher FROM unit_users WHERE id = $2) WHERE id = $1`,
		c.Unit.UnitUserID, *c.Unit.GuestUserID); err != nil {
		t.Fatal(err)
	}
	_, err := d.UnitByID(ctx, model.PropertyScope(p.ID), c.Unit.ID)
	dbtest.WantCode(t, err, model.CodeInternal)
}

func TestPassphraseUniqueness(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
	other := newProperty(t, d, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
	a, b := newUnit(t, d, p.ID, "1"), newUnit(t, d, p.ID, "2")
	x := newUnit(t, d, other.ID, "1")
	scope := model.PropertyScope(p.ID)

	t.Run("ErrConflict in the same property", func(t *testing.T) {
		_, err := d.UpdateUnit(ctx, scope, b.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr(a.Unit.Secret)})
		dbtest.WantCode(t, err, model.CodeConflict)
		// Named as the unit's field: its secret is its UNIT user's passphrase.
		if f := model.ErrorFields(err); len(f) != 1 || f[0].Field != "secret" {
			t.Fatalf("fields = %v", f)
		}
	})
	t.Run("OK in another property", func(t *testing.T) {
		res, err := d.UpdateUnit(ctx, model.PropertyScope(other.ID), x.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr(a.Unit.Secret)})
		if err != nil || res.Unit.Secret != a.Unit.Secret {
			t.Fatalf("err = %v, secret = %q", err, res.Unit.Secret)
		}
	})
	t.Run("OK 200 regenerations are distinct", func(t *testing.T) {
		seen := map[string]bool{}
		for range 200 {
			res, err := d.UpdateUnitUser(ctx, scope, a.Unit.UnitUserID, model.UnitUserUpdate{Passphrase: dbtest.Ptr("")})
			if err != nil {
				t.Fatal(err)
			}
			if seen[res.User.Passphrase] {
				t.Fatalf("passphrase repeated")
			}
			seen[res.User.Passphrase] = true
		}
	})
}

func TestUpdateUnitUser(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{})
	c := newUnit(t, d, p.ID, "101")
	scope := model.UnitScope(p.ID, c.Unit.ID)
	userID := c.Unit.UnitUserID

	cur := dbtest.Must[model.UnitUser](t)(d.UnitUserByID(ctx, scope, userID))
	tests := []struct {
		name             string
		upd              model.UnitUserUpdate
		persona, dpsk    bool
		code             model.Code
		changesRequested int
	}{
		{name: "OK no-op read back", upd: model.UnitUserUpdate{ID: &cur.ID, Type: dbtest.Ptr("UNIT"), UserName: &cur.UserName,
			Email: &cur.Email, Status: dbtest.Ptr("ACTIVE"), Passphrase: &cur.Passphrase}},
		{name: "OK name", upd: model.UnitUserUpdate{UserName: dbtest.Ptr("Grace")}, persona: true, changesRequested: 1},
		{name: "OK regenerate", upd: model.UnitUserUpdate{Passphrase: dbtest.Ptr("")}, dpsk: true, changesRequested: 1},
		{name: "OK status", upd: model.UnitUserUpdate{Status: dbtest.Ptr("BLOCKED")}, persona: true, dpsk: true, changesRequested: 2},
		{name: "ErrForbidden chosen passphrase", upd: model.UnitUserUpdate{Passphrase: dbtest.Ptr("my-own-key-1")}, code: model.CodeForbidden},
		{name: "ErrBadUserInput type change", upd: model.UnitUserUpdate{Type: dbtest.Ptr("LINKED")}, code: model.CodeBadUserInput},
		{name: "ErrBadUserInput foreign id", upd: model.UnitUserUpdate{ID: dbtest.Ptr(uuid.New())}, code: model.CodeBadUserInput},
		{name: "ErrBadUserInput short passphrase", upd: model.UnitUserUpdate{Passphrase: dbtest.Ptr("short")}, code: model.CodeBadUserInput},
		{name: "ErrBadUserInput status", upd: model.UnitUserUpdate{Status: dbtest.Ptr("GONE")}, code: model.CodeBadUserInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dbtest.Must[[]model.ChangeRequest](t)(d.ChangeRequestsByUnit(ctx, c.Unit.ID))
			res, err := d.UpdateUnitUser(ctx, scope, userID, tt.upd)
			dbtest.WantCode(t, err, tt.code)
			after := dbtest.Must[[]model.ChangeRequest](t)(d.ChangeRequestsByUnit(ctx, c.Unit.ID))
			if got := len(after) - len(before); got != tt.changesRequested {
				t.Fatalf("%d change requests written, want %d", got, tt.changesRequested)
			}
			if (res.PersonaUpdateID != nil) != tt.persona || (res.DpskUpdateID != nil) != tt.dpsk {
				t.Fatalf("persona=%v dpsk=%v, want %v %v", res.PersonaUpdateID, res.DpskUpdateID, tt.persona, tt.dpsk)
			}
			for _, id := range []*uuid.UUID{res.PersonaUpdateID, res.DpskUpdateID} {
				if id != nil && !containsChange(after, *id) {
					t.Fatalf("returned id %s is not a change request", id)
				}
			}
		})
	}
	t.Run("ErrNotFound foreign unit", func(t *testing.T) {
		other := newUnit(t, d, p.ID, "102")
		_, err := d.UpdateUnitUser(ctx, scope, other.Unit.UnitUserID, model.UnitUserUpdate{UserName: dbtest.Ptr("x")})
		dbtest.WantCode(t, err, model.CodeNotFound)
		got := dbtest.Must[model.UnitUser](t)(d.UnitUserByID(ctx, model.PropertyScope(p.ID), other.Unit.UnitUserID))
		if got.UserName == "x" {
			t.Fatal("foreign user changed")
		}
	})
}

func containsChange(cs []model.ChangeRequest, id uuid.UUID) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

func TestUpdateUnitIsAtomic(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true), TenantSetDpsk: dbtest.Ptr(true)})
	a, b := newUnit(t, d, p.ID, "1"), newUnit(t, d, p.ID, "2")
	scope := model.PropertyScope(p.ID)

	created := len(dbtest.Must[[]model.ChangeRequest](t)(d.ChangeRequestsByUnit(ctx, a.Unit.ID))) // its identities'
	// Contact, secret and reset succeed, then the guest secret conflicts: nothing may remain.
	_, err := d.UpdateUnit(ctx, scope, a.Unit.ID, model.UnitUpdate{Description: dbtest.Ptr("changed"),
		Secret: dbtest.Ptr(""), GuestSecret: dbtest.Ptr(b.Unit.Secret), ResetPortalAccess: true})
	dbtest.WantCode(t, err, model.CodeConflict)
	got := dbtest.Must[model.Unit](t)(d.UnitByID(ctx, scope, a.Unit.ID))
	if got.Description != a.Unit.Description || got.Secret != a.Unit.Secret || got.TokenGeneration != a.Unit.TokenGeneration {
		t.Fatalf("partial update survived: %+v", got)
	}
	if cs := dbtest.Must[[]model.ChangeRequest](t)(d.ChangeRequestsByUnit(ctx, a.Unit.ID)); len(cs) != created {
		t.Fatalf("%d change requests survived a rolled-back update", len(cs)-created)
	}

	// The same update without the conflict commits every part with its change requests.
	res, err := d.UpdateUnit(ctx, scope, a.Unit.ID, model.UnitUpdate{Description: dbtest.Ptr("changed"),
		Secret: dbtest.Ptr(""), GuestSecret: dbtest.Ptr("guest-pass-123"), Status: dbtest.Ptr(model.StatusTokenReset)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unit.Description != "changed" || res.Unit.Secret == a.Unit.Secret || *res.Unit.GuestSecret != "guest-pass-123" ||
		res.Unit.TokenGeneration != a.Unit.TokenGeneration+1 || res.PortalSecret == "" {
		t.Fatalf("update not applied: %+v", res)
	}
	kinds := map[model.ChangeKind]int{}
	for _, c := range dbtest.Must[[]model.ChangeRequest](t)(d.ChangeRequestsByUnit(ctx, a.Unit.ID)) {
		kinds[c.Kind]++
	}
	want := map[model.ChangeKind]int{model.ChangeIdentityCreated: 2, // at creation: UNIT and GUEST
		model.ChangeIdentity: 1, model.ChangePassphrase: 2, model.ChangePortalAccessReset: 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("change requests = %v, want %v", kinds, want)
	}
	if _, err := d.UnitAuthBySecret(ctx, p.ID, a.PortalSecret); model.ErrorCode(err) != model.CodeNotFound {
		t.Fatalf("old portal secret still logs in: %v", err)
	}
	if a2 := dbtest.Must[model.UnitAuth](t)(d.UnitAuthBySecret(ctx, p.ID, res.PortalSecret)); a2.UnitID != a.Unit.ID {
		t.Fatal("new portal secret does not log in")
	}
}

func TestUpdateUnitRules(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{})
	c := newUnit(t, d, p.ID, "101")
	scope := model.UnitScope(p.ID, c.Unit.ID)
	tests := []struct {
		name string
		upd  model.UnitUpdate
		code model.Code
	}{
		{"OK read back", model.UnitUpdate{ID: &c.Unit.ID, Number: dbtest.Ptr("101"), Status: dbtest.Ptr("ENABLED"),
			Description: dbtest.Ptr(""), Secret: &c.Unit.Secret}, ""},
		{"ErrForbidden disable", model.UnitUpdate{Status: dbtest.Ptr("DISABLED")}, model.CodeForbidden},
		{"ErrForbidden renumber", model.UnitUpdate{Number: dbtest.Ptr("102")}, model.CodeForbidden},
		{"ErrForbidden guest secret", model.UnitUpdate{GuestSecret: dbtest.Ptr("")}, model.CodeForbidden},
		{"ErrForbidden chosen secret", model.UnitUpdate{Secret: dbtest.Ptr("chosen-secret")}, model.CodeForbidden},
		{"ErrBadUserInput status", model.UnitUpdate{Status: dbtest.Ptr("PAUSED")}, model.CodeBadUserInput},
		{"ErrBadUserInput guid", model.UnitUpdate{ID: dbtest.Ptr(uuid.New())}, model.CodeBadUserInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := d.UpdateUnit(ctx, scope, c.Unit.ID, tt.upd)
			dbtest.WantCode(t, err, tt.code)
			if err == nil && len(res.Changes) != 0 {
				t.Fatalf("no-op wrote %d change requests", len(res.Changes))
			}
		})
	}
}

func TestDevices(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)})
	c := newUnit(t, d, p.ID, "1")
	other := newUnit(t, d, p.ID, "2")
	scope := model.PropertyScope(p.ID)

	dev := dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: c.Unit.UnitUserID, MACAddress: "aabb.ccdd.eeff", DisplayName: "Laptop"}))
	if dev.MACAddress != "AA:BB:CC:DD:EE:FF" || dev.UserType != model.UserTypeUnit {
		t.Fatalf("device = %+v", dev)
	}
	dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: *c.Unit.GuestUserID, MACAddress: "11:22:33:44:55:66"}))
	// The same MAC in another unit is fine; twice in one unit is not.
	dbtest.Must[model.Device](t)(d.AddDevice(ctx, scope, db.NewDevice{UserID: other.Unit.UnitUserID, MACAddress: "AA-BB-CC-DD-EE-FF"}))
	_, err := d.AddDevice(ctx, scope, db.NewDevice{UserID: *c.Unit.GuestUserID, MACAddress: "aabbccddeeff"})
	dbtest.WantCode(t, err, model.CodeConflict)
	_, err = d.AddDevice(ctx, scope, db.NewDevice{UserID: c.Unit.UnitUserID, MACAddress: "zz:bb:cc:dd:ee:ff"})
	dbtest.WantCode(t, err, model.CodeBadUserInput)

	guest := model.UserTypeGuest
	if got := dbtest.Must[[]model.Device](t)(d.DevicesByUnitIDs(ctx, []uuid.UUID{c.Unit.ID}, &guest)); len(got) != 1 || got[0].MACAddress != "11:22:33:44:55:66" {
		t.Fatalf("guest devices = %+v", got)
	}
	if got := dbtest.Must[[]model.Device](t)(d.DevicesByUnitIDs(ctx, []uuid.UUID{c.Unit.ID, other.Unit.ID}, nil)); len(got) != 3 {
		t.Fatalf("devices = %d, want 3", len(got))
	}

	t.Run("ErrNotFound wrong user", func(t *testing.T) {
		_, err := d.RemoveDevice(ctx, scope, c.Unit.ID, c.Unit.GuestUserID, "AA:BB:CC:DD:EE:FF")
		dbtest.WantCode(t, err, model.CodeNotFound)
	})
	t.Run("ErrNotFound foreign unit scope", func(t *testing.T) {
		_, err := d.RemoveDevice(ctx, model.UnitScope(p.ID, c.Unit.ID), other.Unit.ID, nil, "AA:BB:CC:DD:EE:FF")
		dbtest.WantCode(t, err, model.CodeNotFound)
	})
	t.Run("OK", func(t *testing.T) {
		cr, err := d.RemoveDevice(ctx, model.UnitScope(p.ID, c.Unit.ID), c.Unit.ID, &c.Unit.UnitUserID, "AA:BB:CC:DD:EE:FF")
		if err != nil || cr.Kind != model.ChangeDeviceRemoved || *cr.MACAddress != "AA:BB:CC:DD:EE:FF" {
			t.Fatalf("change = %+v, err = %v", cr, err)
		}
		if got := dbtest.Must[[]model.Device](t)(d.DevicesByUserIDs(ctx, []uuid.UUID{c.Unit.UnitUserID, other.Unit.UnitUserID})); len(got) != 1 || got[0].UnitID != other.Unit.ID {
			t.Fatalf("devices after removal = %+v", got)
		}
		_, err = d.RemoveDevice(ctx, scope, c.Unit.ID, nil, "AA:BB:CC:DD:EE:FF")
		dbtest.WantCode(t, err, model.CodeNotFound)
	})
}

func TestKeysetPagesStableUnderInserts(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{})
	var original []string
	for i := range 30 {
		n := fmt.Sprintf("%03d", i*10)
		newUnit(t, d, p.ID, n)
		original = append(original, n)
	}
	var seen []string
	var after *string
	for page := 0; ; page++ {
		pages := dbtest.Must[map[uuid.UUID]model.Page[model.Unit]](t)(d.UnitPages(ctx, []uuid.UUID{p.ID}, model.UnitPage{AfterNumber: after, Limit: 7}))
		units, more := pages[p.ID].Items, pages[p.ID].HasNext
		if pages[p.ID].Total < 30 {
			t.Fatalf("total = %d", pages[p.ID].Total)
		}
		for _, u := range units {
			seen = append(seen, u.Number)
		}
		if !more {
			break
		}
		after = &units[len(units)-1].Number
		// Inserts before and after the cursor between pages must neither
		// repeat nor hide a unit that existed when paging started.
		newUnit(t, d, p.ID, fmt.Sprintf("%03d", page*10+5))
		newUnit(t, d, p.ID, fmt.Sprintf("%03d", 295+page))
	}
	idx := map[string]int{}
	for i, n := range seen {
		if _, dup := idx[n]; dup {
			t.Fatalf("unit %s seen twice", n)
		}
		idx[n] = i
	}
	for i, n := range original {
		j, ok := idx[n]
		if !ok {
			t.Fatalf("unit %s missed", n)
		}
		if i > 0 && j < idx[original[i-1]] {
			t.Fatalf("unit %s out of order", n)
		}
	}
}

func TestRekey(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	oldKeys := dbtest.Keys(t)
	newKeys, err := model.NewKeyring("a-completely-different-secret-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	oldDB := dbtest.Must[*db.DB](t)(db.Open(ctx, url, oldKeys, db.Options{}))
	defer oldDB.Close()
	p := newProperty(t, oldDB, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)})
	units := []db.CreatedUnit{newUnit(t, oldDB, p.ID, "1"), newUnit(t, oldDB, p.ID, "2")}

	newDB := dbtest.Must[*db.DB](t)(db.Open(ctx, url, newKeys, db.Options{}))
	defer newDB.Close()
	// Before the rekey, the old key reads everything and the new one nothing.
	dbtest.Must[model.Unit](t)(oldDB.UnitByID(ctx, model.PropertyScope(p.ID), units[0].Unit.ID))
	if _, err := newDB.UnitByID(ctx, model.PropertyScope(p.ID), units[0].Unit.ID); !errors.Is(err, model.ErrWrongKey) {
		t.Fatalf("new key read an old ciphertext: %v", err)
	}

	moved, err := oldDB.Rekey(ctx, newKeys)
	if err != nil {
		t.Fatal(err)
	}
	if moved != 2+4 { // 2 units, 2 UNIT + 2 GUEST users
		t.Fatalf("moved %d rows, want 6", moved)
	}
	for _, c := range units {
		got := dbtest.Must[model.Unit](t)(newDB.UnitByID(ctx, model.PropertyScope(p.ID), c.Unit.ID))
		if got.Secret != c.Unit.Secret || *got.GuestSecret != *c.Unit.GuestSecret {
			t.Fatal("passphrase changed by rekey")
		}
		if a := dbtest.Must[model.UnitAuth](t)(newDB.UnitAuthBySecret(ctx, p.ID, c.PortalSecret)); a.UnitID != c.Unit.ID {
			t.Fatal("portal secret lookup broken by rekey")
		}
	}
	if _, err := oldDB.UnitByID(ctx, model.PropertyScope(p.ID), units[0].Unit.ID); !errors.Is(err, model.ErrWrongKey) {
		t.Fatalf("old key still reads after rekey: %v", err)
	}
	// Uniqueness holds under the new digests.
	_, err = newDB.UpdateUnit(ctx, model.PropertyScope(p.ID), units[1].Unit.ID, model.UnitUpdate{})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGuestSync(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{})
	c := newUnit(t, d, p.ID, "1")
	dbtest.Must[model.Property](t)(d.UpdateProperty(ctx, p.ID, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true)}))
	u := dbtest.Must[model.Unit](t)(d.UnitByID(ctx, model.PropertyScope(p.ID), c.Unit.ID))
	if u.GuestSecret == nil {
		t.Fatal("allowing guests gave the unit no guest identity")
	}
	dbtest.Must[model.Property](t)(d.UpdateProperty(ctx, p.ID, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(false)}))
	u = dbtest.Must[model.Unit](t)(d.UnitByID(ctx, model.PropertyScope(p.ID), c.Unit.ID))
	if u.GuestSecret != nil {
		t.Fatal("withdrawing guests kept the guest identity")
	}
}

// Pages without their total skip the count and are otherwise the same.
func TestPagesWithoutTotal(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	p := newProperty(t, d, db.PropertyInput{})
	var units []uuid.UUID
	for i := range 5 {
		units = append(units, newUnit(t, d, p.ID, fmt.Sprintf("%03d", i)).Unit.ID)
	}
	for _, after := range []*string{nil, dbtest.Ptr("001"), dbtest.Ptr("999")} {
		counted := dbtest.Must[map[uuid.UUID]model.Page[model.Unit]](t)(d.UnitPages(ctx, []uuid.UUID{p.ID}, model.UnitPage{AfterNumber: after, Limit: 2}))[p.ID]
		bare := dbtest.Must[map[uuid.UUID]model.Page[model.Unit]](t)(d.UnitPages(ctx, []uuid.UUID{p.ID}, model.UnitPage{AfterNumber: after, Limit: 2, SkipTotal: true}))[p.ID]
		if counted.Total != 5 || bare.Total != 0 || len(bare.Items) != len(counted.Items) || bare.HasNext != counted.HasNext {
			t.Fatalf("after %v: counted %+v, bare %+v", after, counted, bare)
		}
	}
	counted := dbtest.Must[map[uuid.UUID]model.Page[model.UnitUser]](t)(d.UnitUserPages(ctx, units, model.UserPage{Limit: 1}))
	bare := dbtest.Must[map[uuid.UUID]model.Page[model.UnitUser]](t)(d.UnitUserPages(ctx, units, model.UserPage{Limit: 1, SkipTotal: true}))
	for _, u := range units {
		if counted[u].Total != 1 || bare[u].Total != 0 || len(bare[u].Items) != 1 || bare[u].Items[0].ID != counted[u].Items[0].ID {
			t.Fatalf("unit %s: counted %+v, bare %+v", u, counted[u], bare[u])
		}
	}
}
