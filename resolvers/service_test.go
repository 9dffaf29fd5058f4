package resolvers_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// replica is one server's service layer over a shared database, with its
// own pool, statement counter and revocation listener.
type replica struct {
	svc     *service.Service
	store   *db.DB
	counter *db.StatementCounter
	clock   *clock
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newReplica(tb testing.TB, url string) *replica {
	tb.Helper()
	r := &replica{counter: &db.StatementCounter{}, clock: &clock{now: time.Now()}}
	r.store = dbtest.Must[*db.DB](tb)(db.Open(context.Background(), url, dbtest.Keys(tb), db.Options{Tracer: r.counter}))
	r.svc = service.New(r.store, dbtest.Keys(tb), service.Options{TokenTTL: time.Hour, Now: r.clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.store.ListenAuthChanges(ctx, r.svc.Authenticator(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	tb.Cleanup(func() { cancel(); <-done; r.store.Close() })
	eventually(tb, "listener up", r.svc.Authenticator().Caching)
	return r
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(tb testing.TB, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("%s: not within 10s", what)
	return 0
}

// as returns a context carrying credential as a request's Authorization header.
func (r *replica) as(credential string) context.Context {
	return r.svc.Authenticator().WithCredential(context.Background(), credential, false)
}

func (r *replica) asREST(credential string) context.Context {
	return r.svc.Authenticator().WithCredential(context.Background(), credential, true)
}

type fixture struct {
	property, other model.Property
	unit, neighbour db.CreatedUnit
	foreign         db.CreatedUnit // a unit of the other property
}

func newFixture(tb testing.TB, store *db.DB, in db.PropertyInput) fixture {
	tb.Helper()
	ctx := context.Background()
	in.Name = dbtest.Ptr("Harbour View")
	var f fixture
	f.property = dbtest.Must[model.Property](tb)(store.CreateProperty(ctx, in))
	f.other = dbtest.Must[model.Property](tb)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Elsewhere")}))
	f.unit = dbtest.Must[db.CreatedUnit](tb)(store.CreateUnit(ctx, db.NewUnit{PropertyID: f.property.ID, Number: "101"}))
	f.neighbour = dbtest.Must[db.CreatedUnit](tb)(store.CreateUnit(ctx, db.NewUnit{PropertyID: f.property.ID, Number: "102"}))
	f.foreign = dbtest.Must[db.CreatedUnit](tb)(store.CreateUnit(ctx, db.NewUnit{PropertyID: f.other.ID, Number: "101"}))
	return f
}

func (r *replica) login(tb testing.TB, propertyID uuid.UUID, secret string) string {
	tb.Helper()
	res := dbtest.Must[service.LoginResult](tb)(r.svc.Login(context.Background(), propertyID, secret))
	return res.Token
}

func TestLogin(t *testing.T) {
	url := dbtest.NewURL(t)
	r := newReplica(t, url)
	ctx := context.Background()
	f := newFixture(t, r.store, db.PropertyInput{})

	res, err := r.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)
	if err != nil || res.UnitID != f.unit.Unit.ID || res.ServerVersion == "" ||
		res.ExpiresAt.Sub(r.clock.Now()) < 59*time.Minute || res.ExpiresAt.Sub(r.clock.Now()) > time.Hour {
		t.Fatalf("login = %+v, %v", res, err)
	}
	tests := []struct {
		name     string
		property uuid.UUID
		secret   string
		code     model.Code
	}{
		{"ErrWrongSecret", f.property.ID, model.MintPortalSecret(), model.CodeUnauthenticated},
		{"ErrOtherUnitsSecretElsewhere", f.other.ID, f.unit.PortalSecret, model.CodeUnauthenticated},
		{"ErrUnknownProperty", uuid.New(), f.unit.PortalSecret, model.CodeUnauthenticated},
		{"ErrEmpty", f.property.ID, "", model.CodeBadUserInput},
		{"ErrBlank", f.property.ID, "   ", model.CodeBadUserInput},
		{"ErrHuge", f.property.ID, strings.Repeat("x", 10000), model.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.svc.Login(ctx, tt.property, tt.secret)
			dbtest.WantCode(t, err, tt.code)
		})
	}
	t.Run("ErrDisabledUnit", func(t *testing.T) {
		dbtest.Must[model.Unit](t)(r.store.SetUnitStatus(ctx, model.PropertyScope(f.property.ID), f.neighbour.Unit.ID, model.UnitDisabled))
		_, err := r.svc.Login(ctx, f.property.ID, f.neighbour.PortalSecret)
		dbtest.WantCode(t, err, model.CodeUnauthenticated)
	})
	t.Run("ErrPortalClosed", func(t *testing.T) {
		dbtest.Must[model.Property](t)(r.store.UpdateProperty(ctx, f.property.ID, db.PropertyInput{PortalAllowed: dbtest.Ptr(false)}))
		_, err := r.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)
		dbtest.WantCode(t, err, model.CodeUnauthenticated)
	})
}

func TestTokenRules(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	f := newFixture(t, r.store, db.PropertyInput{})
	token := r.login(t, f.property.ID, f.unit.PortalSecret)
	pid := f.property.ID

	t.Run("OK bare and Bearer", func(t *testing.T) {
		for _, h := range []string{token, "Bearer " + token, "bearer  " + token} {
			u := dbtest.Must[model.Unit](t)(r.svc.Unit(r.as(h), pid, nil))
			if u.ID != f.unit.Unit.ID {
				t.Fatalf("unit = %s", u.ID)
			}
		}
	})
	tests := []struct {
		name string
		ctx  context.Context
		call func(context.Context) error
		code model.Code
	}{
		{"ErrNoCredential", context.Background(), func(c context.Context) error { _, err := r.svc.Property(c, pid); return err }, model.CodeUnauthenticated},
		{"ErrEmptyHeader", r.as(""), func(c context.Context) error { _, err := r.svc.Property(c, pid); return err }, model.CodeUnauthenticated},
		{"ErrMalformed", r.as("not.a-token"), func(c context.Context) error { _, err := r.svc.Property(c, pid); return err }, model.CodeUnauthenticated},
		{"ErrForgedSignature", r.as(token[:len(token)-2] + "AA"), func(c context.Context) error { _, err := r.svc.Property(c, pid); return err }, model.CodeUnauthenticated},
		{"ErrOtherProperty", r.as(token), func(c context.Context) error { _, err := r.svc.Property(c, f.other.ID); return err }, model.CodeUnauthenticated},
		{"ErrNeighbourUnit", r.as(token), func(c context.Context) error {
			_, err := r.svc.Unit(c, pid, &f.neighbour.Unit.ID)
			return err
		}, model.CodeNotFound},
		{"ErrNeighbourUser", r.as(token), func(c context.Context) error {
			_, err := r.svc.UnitUser(c, pid, f.neighbour.Unit.UnitUserID)
			return err
		}, model.CodeNotFound},
		{"ErrNeighbourUserUpdate", r.as(token), func(c context.Context) error {
			_, err := r.svc.UpdateUnitUser(c, pid, f.neighbour.Unit.UnitUserID, model.UnitUserUpdate{UserName: dbtest.Ptr("pwned")})
			return err
		}, model.CodeNotFound},
		{"ErrUnknownUser", r.as(token), func(c context.Context) error { _, err := r.svc.UnitUser(c, pid, uuid.New()); return err }, model.CodeNotFound},
		{"ErrResidentListsUnits", r.as(token), func(c context.Context) error { return r.svc.RequireManager(c, pid) }, model.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { dbtest.WantCode(t, tt.call(tt.ctx), tt.code) })
	}
	if u := dbtest.Must[model.UnitUser](t)(r.store.UnitUserByID(context.Background(), model.PropertyScope(pid), f.neighbour.Unit.UnitUserID)); u.UserName == "pwned" {
		t.Fatal("a neighbour's user was changed")
	}
	t.Run("ErrExpired", func(t *testing.T) {
		r.clock.Advance(time.Hour)
		_, err := r.svc.Unit(r.as(token), pid, nil)
		dbtest.WantCode(t, err, model.CodeUnauthenticated)
	})
}

func TestManagerKey(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	ctx := context.Background()
	f := newFixture(t, r.store, db.PropertyInput{})
	key := dbtest.Must[db.CreatedManagerKey](t)(r.store.CreateManagerKey(ctx, f.property.ID))
	otherKey := dbtest.Must[db.CreatedManagerKey](t)(r.store.CreateManagerKey(ctx, f.other.ID))
	pid := f.property.ID

	mgr := r.as(key.Key)
	if err := r.svc.RequireManager(mgr, pid); err != nil {
		t.Fatal(err)
	}
	for _, u := range []db.CreatedUnit{f.unit, f.neighbour} {
		got := dbtest.Must[model.Unit](t)(r.svc.Unit(mgr, pid, &u.Unit.ID))
		if got.ID != u.Unit.ID {
			t.Fatal("manager read the wrong unit")
		}
	}
	res := dbtest.Must[model.UnitUserUpdateResult](t)(r.svc.UpdateUnitUser(mgr, pid, f.neighbour.Unit.UnitUserID, model.UnitUserUpdate{UserName: dbtest.Ptr("Set by manager")}))
	if res.User.UserName != "Set by manager" || res.PersonaUpdateID == nil {
		t.Fatalf("manager update = %+v", res)
	}
	_, err := r.svc.Unit(mgr, pid, nil)
	dbtest.WantCode(t, err, model.CodeBadUserInput)
	_, err = r.svc.Unit(mgr, pid, &f.foreign.Unit.ID)
	dbtest.WantCode(t, err, model.CodeNotFound)
	_, err = r.svc.Unit(r.as(otherKey.Key), pid, &f.unit.Unit.ID)
	dbtest.WantCode(t, err, model.CodeUnauthenticated)
	_, err = r.svc.Unit(r.asREST(key.Key), pid, &f.unit.Unit.ID)
	dbtest.WantCode(t, err, model.CodeUnauthenticated)
	_, err = r.svc.Unit(r.as(model.ManagerKeyPrefix+"forged"), pid, &f.unit.Unit.ID)
	dbtest.WantCode(t, err, model.CodeUnauthenticated)
}

func TestUseCases(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	ctx := context.Background()
	f := newFixture(t, r.store, db.PropertyInput{AllowSeparateGuestSecret: dbtest.Ptr(true), TenantSetDpsk: dbtest.Ptr(true)})
	pid := f.property.ID
	scope := model.PropertyScope(pid)
	token := r.login(t, pid, f.unit.PortalSecret)
	me := r.as(token)
	unitUser, guestUser := f.unit.Unit.UnitUserID, *f.unit.Unit.GuestUserID
	dbtest.Must[model.Device](t)(r.store.AddDevice(ctx, scope, db.NewDevice{UserID: unitUser, MACAddress: "02:00:00:00:00:01"}))
	dbtest.Must[model.Device](t)(r.store.AddDevice(ctx, scope, db.NewDevice{UserID: guestUser, MACAddress: "02:00:00:00:00:02"}))
	dbtest.Must[model.Device](t)(r.store.AddDevice(ctx, scope, db.NewDevice{UserID: f.neighbour.Unit.UnitUserID, MACAddress: "02:00:00:00:00:03"}))
	linked := dbtest.Must[model.UnitUser](t)(r.store.CreateUnitUser(ctx, scope, f.unit.Unit.ID, "Office", "", ""))

	t.Run("public reads", func(t *testing.T) {
		p := dbtest.Must[model.Property](t)(r.svc.PortalAccess(ctx, pid))
		if !p.PortalAllowed {
			t.Fatal("portal closed")
		}
		_, err := r.svc.UiConfiguration(ctx, uuid.New())
		dbtest.WantCode(t, err, model.CodeNotFound)
		_, err = r.svc.PropertyFile(ctx, pid, "banner")
		dbtest.WantCode(t, err, model.CodeBadUserInput)
		_, err = r.svc.PropertyFile(ctx, pid, "logo")
		dbtest.WantCode(t, err, model.CodeNotFound)
	})
	t.Run("unit devices", func(t *testing.T) {
		guest := dbtest.Must[[]model.Device](t)(r.svc.UnitDevices(me, pid, nil, model.UserTypeGuest))
		unit := dbtest.Must[[]model.Device](t)(r.svc.UnitDevices(me, pid, nil, model.UserTypeUnit))
		if len(guest) != 1 || guest[0].MACAddress != "02:00:00:00:00:02" || len(unit) != 1 {
			t.Fatalf("guest = %v, unit = %v", guest, unit)
		}
		_, err := r.svc.UnitDevices(me, pid, nil, model.UserTypeLinked)
		dbtest.WantCode(t, err, model.CodeBadUserInput)
	})
	t.Run("remove unit device", func(t *testing.T) {
		dbtest.WantCode(t, r.svc.RemoveUnitDevice(me, pid, nil, "02-00-00-00-00-03"), model.CodeNotFound) // the neighbour's
		dbtest.WantCode(t, r.svc.RemoveUnitDevice(me, pid, nil, "bogus"), model.CodeBadUserInput)
		if err := r.svc.RemoveUnitDevice(me, pid, nil, "0200.0000.0002"); err != nil {
			t.Fatal(err)
		}
		dbtest.WantCode(t, r.svc.RemoveUnitDevice(me, pid, nil, "02:00:00:00:00:02"), model.CodeNotFound)
	})
	t.Run("user devices", func(t *testing.T) {
		ds := dbtest.Must[[]model.Device](t)(r.svc.UnitUserDevices(me, pid, unitUser))
		if len(ds) != 1 || ds[0].UserID != unitUser || ds[0].UserType != model.UserTypeUnit {
			t.Fatalf("devices = %+v", ds)
		}
		dbtest.WantCode(t, r.svc.RemoveUnitUserDevice(me, pid, linked.ID, "02:00:00:00:00:01"), model.CodeNotFound)
		dbtest.WantCode(t, r.svc.RemoveUnitUserDevice(me, pid, f.neighbour.Unit.UnitUserID, "02:00:00:00:00:03"), model.CodeNotFound)
		if err := r.svc.RemoveUnitUserDevice(me, pid, unitUser, "02:00:00:00:00:01"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("query users", func(t *testing.T) {
		page := dbtest.Must[service.UnitUserPage](t)(r.svc.QueryUnitUsers(me, pid, service.UnitUserQuery{}))
		if page.Total != 3 || len(page.Users) != 3 || page.PageSize != 20 {
			t.Fatalf("page = %+v", page)
		}
		for i := 1; i < len(page.Users); i++ {
			if page.Users[i-1].ID.String() >= page.Users[i].ID.String() {
				t.Fatal("default order is not userId ascending")
			}
		}
		byName := dbtest.Must[service.UnitUserPage](t)(r.svc.QueryUnitUsers(me, pid, service.UnitUserQuery{Sort: []string{"type"}, Desc: true, PageSize: 2, Page: 1}))
		if byName.Total != 3 || len(byName.Users) != 1 || byName.Users[0].Type != model.UserTypeGuest {
			t.Fatalf("type DESC page 1 = %+v", byName.Users)
		}
		past := dbtest.Must[service.UnitUserPage](t)(r.svc.QueryUnitUsers(me, pid, service.UnitUserQuery{Page: 7}))
		if len(past.Users) != 0 || past.Total != 3 {
			t.Fatalf("past the end = %+v", past)
		}
		one := dbtest.Must[service.UnitUserPage](t)(r.svc.QueryUnitUsers(me, pid, service.UnitUserQuery{UserID: &linked.ID}))
		if one.Total != 1 || one.Users[0].ID != linked.ID {
			t.Fatalf("filtered = %+v", one)
		}
		for _, q := range []service.UnitUserQuery{{Page: -1}, {PageSize: -1}, {PageSize: 101}, {Sort: []string{"passphrase"}}} {
			_, err := r.svc.QueryUnitUsers(me, pid, q)
			dbtest.WantCode(t, err, model.CodeBadUserInput)
		}
	})
	t.Run("update unit", func(t *testing.T) {
		res := dbtest.Must[model.UnitUpdateResult](t)(r.svc.UpdateUnit(me, pid, nil, model.UnitUpdate{
			Contact: model.ContactUpdate{Email: dbtest.Ptr("new@example.org")}, Secret: dbtest.Ptr("chosen-by-me-1")}))
		if res.Unit.Contact.Email != "new@example.org" || res.Unit.Secret != "chosen-by-me-1" || len(res.Changes) != 2 {
			t.Fatalf("update = %+v", res)
		}
		// The unit's secret is its UNIT user's passphrase: one value.
		u := dbtest.Must[model.UnitUser](t)(r.svc.UnitUser(me, pid, unitUser))
		if u.Passphrase != "chosen-by-me-1" {
			t.Fatalf("UNIT user passphrase = %q", u.Passphrase)
		}
		_, err := r.svc.UpdateUnit(me, pid, nil, model.UnitUpdate{GuestSecret: dbtest.Ptr(u.Passphrase)})
		dbtest.WantCode(t, err, model.CodeConflict)
		_, err = r.svc.UpdateUnit(me, pid, nil, model.UnitUpdate{Contact: model.ContactUpdate{Email: dbtest.Ptr(strings.Repeat("e", 250) + "@x.org")}})
		dbtest.WantCode(t, err, model.CodeBadUserInput)
	})
	t.Run("update user outbox ids", func(t *testing.T) {
		res := dbtest.Must[model.UnitUserUpdateResult](t)(r.svc.UpdateUnitUser(me, pid, linked.ID, model.UnitUserUpdate{Status: dbtest.Ptr("BLOCKED")}))
		if res.PersonaUpdateID == nil || res.DpskUpdateID == nil || *res.PersonaUpdateID == *res.DpskUpdateID {
			t.Fatalf("ids = %v %v", res.PersonaUpdateID, res.DpskUpdateID)
		}
		none := dbtest.Must[model.UnitUserUpdateResult](t)(r.svc.UpdateUnitUser(me, pid, linked.ID, model.UnitUserUpdate{Status: dbtest.Ptr("BLOCKED")}))
		if none.PersonaUpdateID != nil || none.DpskUpdateID != nil {
			t.Fatal("a no-op update made change requests")
		}
	})
	t.Run("reset portal access", func(t *testing.T) {
		if err := r.svc.ResetPortalAccess(me, pid, nil); err != nil {
			t.Fatal(err)
		}
		_, err := r.svc.Unit(r.as(r.login(t, pid, f.neighbour.PortalSecret)), pid, nil)
		if err != nil {
			t.Fatal("resetting one unit revoked another's token")
		}
		eventually(t, "token revoked", func() bool {
			_, err := r.svc.Unit(r.as(token), pid, nil) // a new request
			return model.ErrorCode(err) == model.CodeUnauthenticated
		})
		_, err = r.svc.Login(ctx, pid, f.unit.PortalSecret)
		dbtest.WantCode(t, err, model.CodeUnauthenticated)
	})
}

func TestRevocationAcrossReplicas(t *testing.T) {
	url := dbtest.NewURL(t)
	a, b := newReplica(t, url), newReplica(t, url)
	ctx := context.Background()
	f := newFixture(t, a.store, db.PropertyInput{})
	pid := f.property.ID

	// unitRead is an authenticated read on replica b with a token from a.
	check := func(credential string) error {
		_, err := b.svc.Property(b.as(credential), pid)
		return err
	}
	revoked := func(tb testing.TB, what, credential string) {
		tb.Helper()
		took := eventually(tb, what+" seen by the other replica", func() bool {
			return model.ErrorCode(check(credential)) == model.CodeUnauthenticated
		})
		if took > time.Second {
			tb.Fatalf("%s took %v on the other replica, want ≤ 1s", what, took)
		}
		tb.Logf("%s refused by the other replica after %v", what, took)
	}

	t.Run("steady state costs no statement", func(t *testing.T) {
		token := a.login(t, pid, f.unit.PortalSecret)
		if err := check(token); err != nil { // warms b's cache
			t.Fatal(err)
		}
		before := b.counter.Count()
		for range 100 {
			if _, err := b.svc.Authenticator().Authenticate(ctx, token); err != nil {
				t.Fatal(err)
			}
		}
		if n := b.counter.Count() - before; n != 0 {
			t.Fatalf("100 token checks sent %d statements, want 0", n)
		}
	})
	t.Run("TOKEN_RESET", func(t *testing.T) {
		token := a.login(t, pid, f.unit.PortalSecret)
		if err := check(token); err != nil {
			t.Fatal(err)
		}
		if err := a.svc.ResetPortalAccess(a.as(token), pid, nil); err != nil {
			t.Fatal(err)
		}
		revoked(t, "TOKEN_RESET", token)
	})
	t.Run("disable", func(t *testing.T) {
		token := a.login(t, pid, f.neighbour.PortalSecret)
		if err := check(token); err != nil {
			t.Fatal(err)
		}
		dbtest.Must[model.Unit](t)(a.store.SetUnitStatus(ctx, model.PropertyScope(pid), f.neighbour.Unit.ID, model.UnitDisabled))
		revoked(t, "disable", token)
		// Re-enabling does not bring the old token back.
		dbtest.Must[model.Unit](t)(a.store.SetUnitStatus(ctx, model.PropertyScope(pid), f.neighbour.Unit.ID, model.UnitEnabled))
		dbtest.WantCode(t, check(token), model.CodeUnauthenticated)
	})
	t.Run("manager key revoke", func(t *testing.T) {
		key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, pid))
		if err := check(key.Key); err != nil {
			t.Fatal(err)
		}
		dbtest.Must[model.ManagerKey](t)(a.store.RevokeManagerKey(ctx, key.ManagerKey.ID))
		revoked(t, "manager key revocation", key.Key)
	})
	t.Run("portal switched off", func(t *testing.T) {
		c := dbtest.Must[db.CreatedUnit](t)(a.store.CreateUnit(ctx, db.NewUnit{PropertyID: pid, Number: "301"}))
		tok := a.login(t, pid, c.PortalSecret)
		if err := check(tok); err != nil {
			t.Fatal(err)
		}
		dbtest.Must[model.Property](t)(a.store.UpdateProperty(ctx, pid, db.PropertyInput{PortalAllowed: dbtest.Ptr(false)}))
		revoked(t, "portal switched off", tok)
	})
}

func TestListenerDownFallsBackToDatabase(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	f := newFixture(t, r.store, db.PropertyInput{})
	token := r.login(t, f.property.ID, f.unit.PortalSecret)
	auth := r.svc.Authenticator()
	if _, err := auth.Authenticate(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	// The listener drops: the cache empties and every check reads the database.
	auth.ListenerUp(false)
	before := r.counter.Count()
	for range 3 {
		if _, err := auth.Authenticate(context.Background(), token); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.counter.Count() - before; n != 3 {
		t.Fatalf("%d statements for 3 checks without notices, want 3", n)
	}
	// A change made while no notice can arrive is still seen at once.
	if _, err := r.store.UpdateUnit(context.Background(), model.PropertyScope(f.property.ID), f.unit.Unit.ID, model.UnitUpdate{ResetPortalAccess: true}); err != nil {
		t.Fatal(err)
	}
	_, err := auth.Authenticate(context.Background(), token)
	dbtest.WantCode(t, err, model.CodeUnauthenticated)
}
