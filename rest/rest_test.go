package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

// testClient bounds every request, so that a request the server never
// answers fails the test instead of stalling it (and a fuzz worker).
var testClient = &http.Client{Timeout: 15 * time.Second}

var update = flag.Bool("update", false, "rewrite the golden files")

// world is a running server over a fresh database with two properties.
type world struct {
	srv   *httptest.Server
	store *db.DB
	svc   *service.Service
	// p allows guest secrets and lets residents choose passphrases; q neither.
	p, q          model.Property
	unit, other   db.CreatedUnit // two units of p
	plain         db.CreatedUnit // a unit of q
	linked        model.UnitUser // a LINKED user of unit
	token, qToken string
	replacements  []string
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	ctx := context.Background()
	store := dbtest.Must[*db.DB](tb)(db.Open(ctx, dbtest.NewURL(tb), dbtest.Keys(tb), db.Options{}))
	tb.Cleanup(store.Close)
	svc := service.New(store, dbtest.Keys(tb), service.Options{TokenTTL: time.Hour})
	gql := resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, MaxBodyBytes: edge.MaxBodyBytes})
	h := rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(),
		RequestTimeout: 10 * time.Second, PublicBaseURL: "https://portal.example.com", GraphQL: gql})
	w := &world{srv: httptest.NewServer(h), store: store, svc: svc}
	tb.Cleanup(w.srv.Close)

	w.p = dbtest.Must[model.Property](tb)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Harbour View"), Address: dbtest.Ptr("1 Quay"),
		AllowSeparateGuestSecret: dbtest.Ptr(true), TenantSetDpsk: dbtest.Ptr(true), SSIDs: []string{"HV"}, Title: dbtest.Ptr("Welcome"),
		LoginText: dbtest.Ptr("Log in"), MainColor: dbtest.Ptr("#102030")}))
	w.q = dbtest.Must[model.Property](tb)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Plain Court")}))
	w.unit = dbtest.Must[db.CreatedUnit](tb)(store.CreateUnit(ctx, db.NewUnit{PropertyID: w.p.ID, Number: "101",
		Contact: model.Contact{ContactName: "Ada", Email: "ada@example.org", PhoneNumber: "+1 555 0101"}}))
	w.other = dbtest.Must[db.CreatedUnit](tb)(store.CreateUnit(ctx, db.NewUnit{PropertyID: w.p.ID, Number: "102"}))
	w.plain = dbtest.Must[db.CreatedUnit](tb)(store.CreateUnit(ctx, db.NewUnit{PropertyID: w.q.ID, Number: "1"}))
	scope := model.PropertyScope(w.p.ID)
	w.linked = dbtest.Must[model.UnitUser](tb)(store.CreateUnitUser(ctx, scope, w.unit.Unit.ID, "Office", "office@example.org", ""))
	seen := time.Date(2026, 11, 1, 12, 0, 0, 123456000, time.UTC)
	dbtest.Must[model.Device](tb)(store.AddDevice(ctx, scope, db.NewDevice{UserID: w.unit.Unit.UnitUserID, MACAddress: "02:00:00:00:00:01", DisplayName: "TV", OSType: "Android", LastSeen: &seen}))
	dbtest.Must[model.Device](tb)(store.AddDevice(ctx, scope, db.NewDevice{UserID: *w.unit.Unit.GuestUserID, MACAddress: "02:00:00:00:00:02", DisplayName: "Visitor"}))
	dbtest.Must[model.Device](tb)(store.AddDevice(ctx, scope, db.NewDevice{UserID: w.linked.ID, MACAddress: "02:00:00:00:00:03"}))
	dbtest.Must[model.Device](tb)(store.AddDevice(ctx, scope, db.NewDevice{UserID: w.other.Unit.UnitUserID, MACAddress: "02:00:00:00:00:04"}))
	if err := store.SetPropertyFile(ctx, model.PropertyFile{PropertyID: w.p.ID, Type: model.FileFavIcon, FileName: "favicon.png", ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\nfav")}); err != nil {
		tb.Fatal(err)
	}
	if err := store.SetPropertyFile(ctx, model.PropertyFile{PropertyID: w.p.ID, Type: model.FileLogo, FileName: "logo.gif", ContentType: "image/gif", Data: []byte("GIF89alogo")}); err != nil {
		tb.Fatal(err)
	}
	w.token = dbtest.Must[service.LoginResult](tb)(svc.Login(ctx, w.p.ID, w.unit.PortalSecret)).Token
	w.qToken = dbtest.Must[service.LoginResult](tb)(svc.Login(ctx, w.q.ID, w.plain.PortalSecret)).Token
	w.replacements = []string{
		w.p.ID.String(), "{propertyId}", w.q.ID.String(), "{otherPropertyId}",
		w.unit.Unit.ID.String(), "{unitId}", w.other.Unit.ID.String(), "{neighbourUnitId}",
		w.unit.Unit.UnitUserID.String(), "{unitUserId}", w.unit.Unit.GuestUserID.String(), "{guestUserId}",
		w.linked.ID.String(), "{linkedUserId}", w.other.Unit.UnitUserID.String(), "{neighbourUserId}",
		w.unit.Unit.Secret, "{secret}", *w.unit.Unit.GuestSecret, "{guestSecret}", w.linked.Passphrase, "{linkedPassphrase}",
	}
	return w
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("body is not a JSON object: %q", r.body)
	}
	return m
}

// do sends a request; body may be a string (sent as is) or a value (JSON).
func (w *world) do(tb testing.TB, method, path string, body any, header ...string) response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, w.srv.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (w *world) path(format string, args ...any) string {
	return "/residents/properties/" + fmt.Sprintf(format, args...)
}

var (
	reTimestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	reToken     = regexp.MustCompile(`"token": "[^"]+"`)
	reUUID      = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// golden compares a response (status, content type, indented body with run-specific
// values replaced by placeholders) with testdata/<name>.golden.
func (w *world) golden(tb testing.TB, name string, r response) {
	tb.Helper()
	var pretty bytes.Buffer
	if json.Indent(&pretty, r.body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(r.body)
	}
	text := strings.NewReplacer(w.replacements...).Replace(pretty.String())
	text = reToken.ReplaceAllString(text, `"token": "{token}"`)
	text = reUUID.ReplaceAllString(text, "{uuid}")
	text = reTimestamp.ReplaceAllString(text, "{timestamp}")
	got := fmt.Sprintf("%d %s\n%s\n", r.status, r.header.Get("Content-Type"), text)
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		tb.Fatalf("%v (run go test ./rest -update to create it)", err)
	}
	if got != string(want) {
		tb.Fatalf("%s differs from its golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestOperationsGolden(t *testing.T) {
	w := newWorld(t)
	pid, tok := w.p.ID, w.token
	auth := []string{"Authorization", tok}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		header []string
	}{
		{"01_residentLogin", "POST", w.path("%s/units/logins", pid), map[string]string{"hashedSecret": w.unit.PortalSecret}, nil},
		{"02_getTenantPortalAccess", "GET", w.path("%s/access", pid), nil, nil},
		{"03_downloadFavicons", "GET", w.path("%s/files/favicons", pid), nil, nil},
		{"04_getPropertyStyles", "GET", w.path("%s/styles", pid), nil, nil},
		{"05_residentFetchProperty", "GET", w.path("%s", pid), nil, auth},
		{"06_residentDownloadPortalFile", "GET", w.path("%s/files/logo", pid), nil, nil},
		{"07_residentFetchUiConfiguration", "GET", w.path("%s/uiConfigurations", pid), nil, nil},
		{"08_residentFetchUnit", "GET", w.path("%s/units", pid), nil, auth},
		{"09_residentEditUnit", "PUT", w.path("%s/units", pid), map[string]any{"description": "Top floor", "contact": map[string]any{"phoneNumber": "+1 555 0199"}}, auth},
		{"10_residentFetchUnitDevices", "GET", w.path("%s/units/devices?type=UNIT", pid), nil, auth},
		{"11_residentRemoveDevice", "DELETE", w.path("%s/units/devices/02-00-00-00-00-02", pid), nil, auth},
		{"12_queryUnitUsers", "POST", w.path("%s/units/users/query", pid), map[string]any{"pageSize": 2, "sortFields": []string{"type"}, "sortDirection": "desc"}, auth},
		{"13_getUnitUser", "GET", w.path("%s/units/users/%s", pid, w.linked.ID), nil, auth},
		{"14_updateUnitUser", "PUT", w.path("%s/units/users/%s", pid, w.linked.ID), map[string]any{"userName": "Den", "status": "BLOCKED"}, auth},
		{"15_getUnitUserDevices", "GET", w.path("%s/units/users/%s/devices", pid, w.unit.Unit.UnitUserID), nil, append(auth, "Accept", "application/vnd.ruckus.v1+json")},
		{"16_removeUnitUserDevice", "DELETE", w.path("%s/units/users/%s/devices/020000000003", pid, w.linked.ID), nil, auth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.do(t, tt.method, tt.path, tt.body, tt.header...)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			w.golden(t, tt.name, r)
		})
	}
}

// wantError checks a response is the vendor error body with status, and
// (when given) that validationErrors names field.
func wantError(tb testing.TB, r response, status int, field string) edge.ErrorBody {
	tb.Helper()
	var e edge.ErrorBody
	if r.header.Get("Content-Type") != "application/json" || json.Unmarshal(r.body, &e) != nil {
		tb.Fatalf("status %d, %s: not the error body: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r.status != status || e.Status != edge.StatusText(status) || e.ValidationErrors == nil || e.Message == "" || e.Timestamp == "" {
		tb.Fatalf("got %d %+v, want %d", r.status, e, status)
	}
	if field != "" {
		found := false
		for _, f := range e.ValidationErrors {
			found = found || f.Field == field
		}
		if !found {
			tb.Fatalf("validationErrors %+v do not name %q", e.ValidationErrors, field)
		}
	}
	for _, leak := range []string{"SQL", "pgx", "goroutine", "panic", ".go:"} {
		if strings.Contains(string(r.body), leak) {
			tb.Fatalf("error body leaks %q: %s", leak, r.body)
		}
	}
	return e
}

func TestErrors(t *testing.T) {
	w := newWorld(t)
	pid, qid := w.p.ID, w.q.ID
	auth := []string{"Authorization", w.token}
	bearer := []string{"Authorization", "Bearer " + w.token}
	key := dbtest.Must[db.CreatedManagerKey](t)(w.store.CreateManagerKey(context.Background(), pid)).Key
	big := `{"description":"` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name         string
		method, path string
		body         any
		header       []string
		status       int
		field        string
	}{
		// 400
		{"bad propertyId", "GET", w.path("not-a-uuid/access"), nil, nil, 400, "propertyId"},
		{"bad userId", "GET", w.path("%s/units/users/123", pid), nil, auth, 400, "userId"},
		{"login without secret", "POST", w.path("%s/units/logins", pid), `{}`, nil, 400, "hashedSecret"},
		{"login empty secret", "POST", w.path("%s/units/logins", pid), `{"hashedSecret":""}`, nil, 400, "hashedSecret"},
		{"login secret not a string", "POST", w.path("%s/units/logins", pid), `{"hashedSecret":42}`, nil, 400, "hashedSecret"},
		{"login body not JSON", "POST", w.path("%s/units/logins", pid), `hashedSecret=x`, nil, 400, "body"},
		{"file type", "GET", w.path("%s/files/banner", pid), nil, nil, 400, "type"},
		{"devices without type", "GET", w.path("%s/units/devices", pid), nil, auth, 400, "type"},
		{"devices type LINKED", "GET", w.path("%s/units/devices?type=LINKED", pid), nil, auth, 400, "type"},
		{"devices type lower case", "GET", w.path("%s/units/devices?type=unit", pid), nil, auth, 400, "type"},
		{"bad MAC", "DELETE", w.path("%s/units/devices/not-a-mac", pid), nil, auth, 400, "deviceId"},
		{"negative page", "POST", w.path("%s/units/users/query", pid), `{"page":-1}`, auth, 400, "page"},
		{"page past the bound", "POST", w.path("%s/units/users/query", pid), `{"page":2147483647,"pageSize":100}`, auth, 400, "page"},
		{"pageSize over 100", "POST", w.path("%s/units/users/query", pid), `{"pageSize":101}`, auth, 400, "pageSize"},
		{"negative pageSize", "POST", w.path("%s/units/users/query", pid), `{"pageSize":-5}`, auth, 400, "pageSize"},
		{"page not a number", "POST", w.path("%s/units/users/query", pid), `{"page":"two"}`, auth, 400, "page"},
		{"unknown sort field", "POST", w.path("%s/units/users/query", pid), `{"sortFields":["passphrase"]}`, auth, 400, "sortFields"},
		{"bad sort direction", "POST", w.path("%s/units/users/query", pid), `{"sortDirection":"sideways"}`, auth, 400, "sortDirection"},
		{"unknown unit status", "PUT", w.path("%s/units", pid), `{"status":"PAUSED"}`, auth, 400, "status"},
		{"foreign guid", "PUT", w.path("%s/units", pid), map[string]any{"guid": w.other.Unit.ID}, auth, 400, "guid"},
		{"bad email", "PUT", w.path("%s/units", pid), `{"contact":{"email":"no-at"}}`, auth, 400, "contact.email"},
		{"long phone", "PUT", w.path("%s/units", pid), `{"contact":{"phoneNumber":"12345678901234567"}}`, auth, 400, "contact.phoneNumber"},
		{"short secret", "PUT", w.path("%s/units", pid), `{"secret":"short"}`, auth, 400, "secret"},
		{"type change", "PUT", w.path("%s/units/users/%s", pid, w.linked.ID), `{"type":"GUEST"}`, auth, 400, "type"},
		{"userId mismatch", "PUT", w.path("%s/units/users/%s", pid, w.linked.ID), map[string]any{"userId": w.unit.Unit.UnitUserID}, auth, 400, "userId"},
		// Input before existence: the mismatch is 400 for a user that is not found too.
		{"userId mismatch, unknown user", "PUT", w.path("%s/units/users/%s", pid, uuid.New()), map[string]any{"userId": w.unit.Unit.UnitUserID}, auth, 400, "userId"},
		{"userId mismatch, another unit's user", "PUT", w.path("%s/units/users/%s", pid, w.other.Unit.UnitUserID), map[string]any{"userId": w.unit.Unit.UnitUserID}, auth, 400, "userId"},
		{"bad user status", "PUT", w.path("%s/units/users/%s", pid, w.linked.ID), `{"status":"GONE"}`, auth, 400, "status"},
		// 401
		{"no token", "GET", w.path("%s/units", pid), nil, nil, 401, ""},
		{"garbage token", "GET", w.path("%s/units", pid), nil, []string{"Authorization", "garbage"}, 401, ""},
		{"token of another property", "GET", w.path("%s/units", qid), nil, auth, 401, ""},
		{"manager key on REST", "GET", w.path("%s/units", pid), nil, []string{"Authorization", key}, 401, ""},
		{"wrong secret", "POST", w.path("%s/units/logins", pid), `{"hashedSecret":"wrong"}`, nil, 401, ""},
		{"unknown property login", "POST", w.path("%s/units/logins", uuid.New()), map[string]string{"hashedSecret": w.unit.PortalSecret}, nil, 401, ""},
		// 403
		{"disable", "PUT", w.path("%s/units", pid), `{"status":"DISABLED"}`, auth, 403, ""},
		{"renumber", "PUT", w.path("%s/units", pid), `{"number":"999"}`, auth, 403, ""},
		{"guest secret without guests", "PUT", w.path("%s/units", qid), `{"guestSecret":""}`, []string{"Authorization", w.qToken}, 403, ""},
		{"chosen secret without tenantSetDpsk", "PUT", w.path("%s/units", qid), `{"secret":"my-own-secret"}`, []string{"Authorization", w.qToken}, 403, ""},
		// 404
		{"unknown route", "GET", "/residents/nothing", nil, nil, 404, ""},
		{"unknown property", "GET", w.path("%s/access", uuid.New()), nil, nil, 404, ""},
		{"file not uploaded", "GET", w.path("%s/files/logo", qid), nil, nil, 404, ""},
		{"neighbour's user", "GET", w.path("%s/units/users/%s", pid, w.other.Unit.UnitUserID), nil, auth, 404, ""},
		{"neighbour's user devices", "GET", w.path("%s/units/users/%s/devices", pid, w.other.Unit.UnitUserID), nil, auth, 404, ""},
		{"neighbour's device", "DELETE", w.path("%s/units/devices/02:00:00:00:00:04", pid), nil, auth, 404, ""},
		{"device of another user", "DELETE", w.path("%s/units/users/%s/devices/02:00:00:00:00:01", pid, w.linked.ID), nil, auth, 404, ""},
		{"unknown user", "PUT", w.path("%s/units/users/%s", pid, uuid.New()), `{"userName":"x"}`, bearer, 404, ""},
		// 405, 409, 413
		{"wrong method", "PATCH", w.path("%s/units", pid), nil, auth, 405, ""},
		{"passphrase in use", "PUT", w.path("%s/units", pid), map[string]any{"guestSecret": w.linked.Passphrase}, auth, 409, "guestSecret"},
		{"secret in use", "PUT", w.path("%s/units", pid), map[string]any{"secret": w.linked.Passphrase}, auth, 409, "secret"},
		{"user passphrase in use", "PUT", w.path("%s/units/users/%s", pid, w.linked.ID), map[string]any{"passphrase": w.unit.Unit.Secret}, auth, 409, "passphrase"},
		{"body over 64 KiB", "PUT", w.path("%s/units", pid), big, auth, 413, ""},
		// order of checks
		{"413 before 401", "PUT", w.path("%s/units", pid), big, nil, 413, ""},
		{"401 before 400", "PUT", w.path("%s/units", pid), `{"status":"PAUSED"}`, nil, 401, ""},
		{"401 before 400 in the path", "GET", w.path("%s/units/users/123", pid), nil, nil, 401, ""},
		{"400 before 403", "PUT", w.path("%s/units", pid), `{"status":"DISABLED","contact":{"email":"bad"}}`, auth, 400, "contact.email"},
		{"403 before 409", "PUT", w.path("%s/units", pid), map[string]any{"number": "7", "guestSecret": w.linked.Passphrase}, auth, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, w.do(t, tt.method, tt.path, tt.body, tt.header...), tt.status, tt.field)
		})
	}
	t.Run("405 names the allowed methods", func(t *testing.T) {
		r := w.do(t, "PATCH", w.path("%s/units/users/%s", pid, w.linked.ID), nil, auth...)
		if r.header.Get("Allow") != "GET, PUT" {
			t.Fatalf("Allow = %q", r.header.Get("Allow"))
		}
	})
	t.Run("disabled unit and closed portal", func(t *testing.T) {
		ctx := context.Background()
		tok := dbtest.Must[service.LoginResult](t)(w.svc.Login(ctx, pid, w.other.PortalSecret)).Token
		dbtest.Must[model.Unit](t)(w.store.SetUnitStatus(ctx, model.PropertyScope(pid), w.other.Unit.ID, model.UnitDisabled))
		wantError(t, w.do(t, "GET", w.path("%s/units", pid), nil, "Authorization", tok), 401, "")
		wantError(t, w.do(t, "POST", w.path("%s/units/logins", pid), map[string]string{"hashedSecret": w.other.PortalSecret}), 401, "")
		dbtest.Must[model.Property](t)(w.store.UpdateProperty(ctx, qid, db.PropertyInput{PortalAllowed: dbtest.Ptr(false)}))
		wantError(t, w.do(t, "GET", w.path("%s/units", qid), nil, "Authorization", w.qToken), 401, "")
		if r := w.do(t, "GET", w.path("%s/access", qid), nil); r.status != 200 || r.json(t)["portalAllowed"] != false {
			t.Fatalf("access = %d %s", r.status, r.body)
		}
	})
}

func TestIsolation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	pid := w.p.ID
	auth := []string{"Authorization", w.token}
	before := dbtest.Must[model.UnitUser](t)(w.store.UnitUserByID(ctx, model.PropertyScope(pid), w.other.Unit.UnitUserID))
	changesBefore := dbtest.Must[[]model.ChangeRequest](t)(w.store.ChangeRequestsByUnit(ctx, w.other.Unit.ID))
	for _, r := range []response{
		w.do(t, "PUT", w.path("%s/units/users/%s", pid, w.other.Unit.UnitUserID), `{"userName":"pwned","passphrase":""}`, auth...),
		w.do(t, "DELETE", w.path("%s/units/users/%s/devices/02:00:00:00:00:04", pid, w.other.Unit.UnitUserID), nil, auth...),
		w.do(t, "DELETE", w.path("%s/units/devices/02:00:00:00:00:04", pid), nil, auth...),
		w.do(t, "POST", w.path("%s/units/users/query", pid), map[string]any{"userId": w.other.Unit.UnitUserID}, auth...),
	} {
		if r.status != 404 && !(r.status == 200 && r.json(t)["totalElements"] == float64(0)) {
			t.Fatalf("foreign id answered %d %s", r.status, r.body)
		}
	}
	after := dbtest.Must[model.UnitUser](t)(w.store.UnitUserByID(ctx, model.PropertyScope(pid), w.other.Unit.UnitUserID))
	if after.UserName != before.UserName || after.Passphrase != before.Passphrase {
		t.Fatal("a neighbour's user changed")
	}
	if ds := dbtest.Must[[]model.Device](t)(w.store.DevicesByUserIDs(ctx, []uuid.UUID{w.other.Unit.UnitUserID})); len(ds) != 1 {
		t.Fatal("a neighbour's device was removed")
	}
	if cs := dbtest.Must[[]model.ChangeRequest](t)(w.store.ChangeRequestsByUnit(ctx, w.other.Unit.ID)); len(cs) != len(changesBefore) {
		t.Fatalf("%d change requests for the neighbour's unit", len(cs)-len(changesBefore))
	}
}

func TestReadModifyWrite(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	pid := w.p.ID
	auth := []string{"Authorization", w.token}
	changes := func() int {
		return len(dbtest.Must[[]model.ChangeRequest](t)(w.store.ChangeRequestsByUnit(ctx, w.unit.Unit.ID)))
	}
	start := changes()

	unit := w.do(t, "GET", w.path("%s/units", pid), nil, auth...)
	put := w.do(t, "PUT", w.path("%s/units", pid), unit.body, auth...)
	if put.status != 200 || !bytes.Equal(put.body, unit.body) {
		t.Fatalf("PUT of what was read: %d\n%s\nwant\n%s", put.status, put.body, unit.body)
	}
	user := w.do(t, "GET", w.path("%s/units/users/%s", pid, w.linked.ID), nil, auth...)
	putUser := w.do(t, "PUT", w.path("%s/units/users/%s", pid, w.linked.ID), user.body, auth...)
	if putUser.status != 200 || string(bytes.TrimSpace(putUser.body)) != "{}" {
		t.Fatalf("PUT of the user as read: %d %s", putUser.status, putUser.body)
	}
	if n := changes() - start; n != 0 {
		t.Fatalf("read-modify-write of unchanged data made %d change requests", n)
	}
	// Nulls are "unchanged", and a regenerate really changes the passphrase.
	r := w.do(t, "PUT", w.path("%s/units/users/%s", pid, w.linked.ID), `{"userName":null,"passphrase":""}`, auth...)
	res := r.json(t)
	if r.status != 200 || res["dpskUpdateId"] == nil || res["personaUpdateId"] != nil {
		t.Fatalf("regenerate = %d %s", r.status, r.body)
	}
	got := dbtest.Must[model.UnitUser](t)(w.store.UnitUserByID(ctx, model.PropertyScope(pid), w.linked.ID))
	if got.Passphrase == w.linked.Passphrase || got.UserName != w.linked.UserName {
		t.Fatal("regenerate did not change only the passphrase")
	}
	// TOKEN_RESET: the unit answers, then the old token and portal secret stop working.
	reset := w.do(t, "PUT", w.path("%s/units", pid), `{"status":"TOKEN_RESET","description":"reset"}`, auth...)
	if reset.status != 200 || reset.json(t)["description"] != "reset" {
		t.Fatalf("TOKEN_RESET = %d %s", reset.status, reset.body)
	}
	wantError(t, w.do(t, "POST", w.path("%s/units/logins", pid), map[string]string{"hashedSecret": w.unit.PortalSecret}), 401, "")
}

func TestPercentEncodedMAC(t *testing.T) {
	w := newWorld(t)
	r := w.do(t, "DELETE", w.path("%s/units/devices/02%%3a00%%3A00%%3A00%%3A00%%3A01", w.p.ID), nil, "Authorization", w.token)
	if r.status != 200 || len(r.body) != 0 {
		t.Fatalf("DELETE with an encoded MAC = %d %q", r.status, r.body)
	}
}

func TestDatabaseDown(t *testing.T) {
	store := dbtest.Must[*db.DB](t)(db.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", dbtest.Keys(t), db.Options{}))
	defer store.Close()
	svc := service.New(store, dbtest.Keys(t), service.Options{})
	srv := httptest.NewServer(rest.NewHandler(rest.Deps{Service: svc, Log: slog.New(slog.DiscardHandler), Metrics: edge.NewMetrics(),
		RequestTimeout: 5 * time.Second, PublicBaseURL: "http://localhost"}))
	defer srv.Close()
	w := &world{srv: srv}
	wantError(t, w.do(t, "GET", w.path("%s/access", uuid.New()), nil), 503, "")
	wantError(t, w.do(t, "POST", w.path("%s/units/logins", uuid.New()), `{"hashedSecret":"x"}`), 503, "")
}

// A file stored before uploads were checked by their content (an SVG with
// a script) is offered as a download, never rendered inline.
func TestUncheckedFileServedAsDownload(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.store.Pool().Exec(ctx, `UPDATE property_files SET data = $2, content_type = 'image/svg+xml'
	  WHERE property_id = $1 AND type = 'logo'`, w.p.ID, []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)); err != nil {
		t.Fatal(err)
	}
	r := w.do(t, "GET", w.path("%s/files/logo", w.p.ID), nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/octet-stream" ||
		!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("%d %q %q", r.status, r.header.Get("Content-Type"), r.header.Get("Content-Disposition"))
	}
}

// A valid manager key on REST says what to use instead.
func TestManagerKeyOnRESTSaysWhy(t *testing.T) {
	w := newWorld(t)
	key := dbtest.Must[db.CreatedManagerKey](t)(w.store.CreateManagerKey(context.Background(), w.p.ID)).Key
	e := wantError(t, w.do(t, "GET", w.path("%s/units", w.p.ID), nil, "Authorization", key), 401, "")
	if !strings.Contains(e.Message, "REST API is for residents") {
		t.Fatalf("message: %q", e.Message)
	}
}

// HEAD answers as GET without the body; GraphQL takes GET and POST only.
func TestHeadAndGraphQLMethods(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct {
		method, path string
		header       []string
		status       int
	}{
		{"HEAD", "/healthz", nil, 200},
		{"HEAD", w.path("%s/access", w.p.ID), nil, 200},
		{"HEAD", w.path("%s/units", w.p.ID), []string{"Authorization", w.token}, 200},
		{"HEAD", w.path("%s/units", w.p.ID), nil, 401},
		{"PUT", "/graphql", nil, 405},
		{"DELETE", "/graphql", nil, 405},
	} {
		r := w.do(t, c.method, c.path, nil, c.header...)
		if r.status != c.status || (c.method == "HEAD" && len(r.body) != 0) {
			t.Fatalf("%s %s: %d %q", c.method, c.path, r.status, r.body)
		}
		if c.status == 405 && !strings.Contains(r.header.Get("Allow"), "POST") {
			t.Fatalf("%s %s: Allow %q", c.method, c.path, r.header.Get("Allow"))
		}
	}
}
