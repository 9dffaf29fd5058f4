// Command floor serves the benchmark's reads with the least code possible
// around portald's own storage layer: plain net/http and the db package's
// statements (the ones portald sends for the same reads, one per nesting
// level, as many round trips), with portald's runtime settings — but no
// GraphQL, no authentication, no rate limiting. It writes the bytes portald
// writes for the same read (the shape is the API's, not portald's work), so
// that a ratio to it measures portald's work only: the best case every other
// server is measured against. floor_test.go checks the bytes against
// portald's for the benchmark's queries.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // on PPROF_ADDR only, for comparing profiles with portald's
	"os"
	"runtime/debug"

	"github.com/google/uuid"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

// The GraphQL responses' shapes, fields in the order the benchmark's
// queries select them (bench.ResidentQuery, bench.ManagerQuery).

type device struct {
	MAC         string `json:"macAddress"`
	DisplayName string `json:"displayName"`
	OSType      string `json:"osType"`
}

type user struct {
	ID         uuid.UUID `json:"id"`
	UserName   string    `json:"userName"`
	Type       string    `json:"type"`
	Passphrase string    `json:"passphrase"`
	Devices    []device  `json:"devices"`
}

type edgeOf[T any] struct {
	Node *T `json:"node"`
}

type connection[T any] struct {
	Edges []edgeOf[T] `json:"edges"`
}

type unit struct {
	ID     uuid.UUID        `json:"id"`
	Number string           `json:"number"`
	Users  connection[user] `json:"users"`
}

type property struct {
	Name  string           `json:"name"`
	Units connection[unit] `json:"units"`
}

type data[T any] struct {
	Data T `json:"data"`
}

// userResponse is the vendor REST API's unit user (rest.unitUserResponse).
type userResponse struct {
	UserID      string `json:"userId"`
	UserName    string `json:"userName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
	Passphrase  string `json:"passphrase"`
	Status      string `json:"status"`
	Type        string `json:"type"`
	Links       struct {
		Self struct {
			Href string `json:"href"`
		} `json:"self"`
	} `json:"_links"`
}

type server struct {
	store *db.DB
	// base is the REST links' base, as portald's PUBLIC_BASE_URL.
	base string
}

func main() {
	// portald's garbage-collector settings (cmd/portald/main.go), unless
	// the environment sets its own.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(36 << 20)
	}
	// db.Open: portald's pool settings (generic plans, binary uuids).
	store, _ := bench.Store(context.Background(), os.Getenv("DATABASE_URL"))
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		go func() { log.Print(http.ListenAndServe(addr, nil)) }()
	}
	addr, base := os.Getenv("LISTEN_ADDR"), os.Getenv("PUBLIC_BASE_URL")
	if base == "" { // portald's default
		_, port, _ := net.SplitHostPort(addr)
		base = "http://localhost:" + port
	}
	log.Fatal(http.ListenAndServe(addr, (&server{store, base}).routes()))
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/user", s.user)
	mux.HandleFunc("/resident", s.resident)
	mux.HandleFunc("/manager", s.manager)
	mux.HandleFunc("/page", s.page)
	mux.HandleFunc("/claim", s.claim)
	return mux
}

func fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// write writes v as portald's REST layer does (an encoder, a newline).
func write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeData writes v as GraphQL's data, as portald's GraphQL endpoint does.
func writeData[T any](w http.ResponseWriter, v T) {
	b, err := json.Marshal(data[T]{v})
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func ids(r *http.Request, names ...string) ([]uuid.UUID, bool) {
	out := make([]uuid.UUID, len(names))
	for i, n := range names {
		id, err := uuid.Parse(r.URL.Query().Get(n))
		if err != nil {
			return nil, false
		}
		out[i] = id
	}
	return out, true
}

// user: GET /user?property=&id= — one unit user (1 statement), as the
// vendor's REST API returns it.
func (s *server) user(w http.ResponseWriter, r *http.Request) {
	v, u, ok := s.unitUser(w, r)
	if !ok {
		return
	}
	out := userResponse{UserID: u.ID.String(), UserName: u.UserName, Email: u.Email, PhoneNumber: u.PhoneNumber,
		Passphrase: u.Passphrase, Status: string(u.Status), Type: string(u.Type)}
	out.Links.Self.Href = s.base + "/residents/properties/" + v[0].String() + "/units/users/" + u.ID.String()
	write(w, &out)
}

// unitUser reads the unit user ?property=&id= names (1 statement); false
// when it answered an error instead.
func (s *server) unitUser(w http.ResponseWriter, r *http.Request) ([]uuid.UUID, model.UnitUser, bool) {
	v, ok := ids(r, "property", "id")
	if !ok {
		http.Error(w, "bad query", http.StatusBadRequest)
		return nil, model.UnitUser{}, false
	}
	u, err := s.store.UnitUserByID(r.Context(), model.PropertyScope(v[0]), v[1])
	if err != nil {
		fail(w, err)
		return nil, model.UnitUser{}, false
	}
	return v, u, true
}

// resident: GET /resident?property=&unit= — the unit, its first 100 users
// and their devices (3 statements in one round trip, as portald).
func (s *server) resident(w http.ResponseWriter, r *http.Request) {
	v, ok := ids(r, "property", "unit")
	if !ok {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	scope := model.Scope{PropertyID: v[0], UnitID: &v[1]}
	t, err := s.store.UnitTree(r.Context(), scope, v[1], model.TreeQuery{Users: model.UserPage{Limit: 100, SkipTotal: true}, Devices: true})
	if err != nil {
		fail(w, err)
		return
	}
	un := &unit{ID: t.Unit.ID, Number: t.Unit.Number}
	byUser := make(map[uuid.UUID]*user, len(t.Users.Items))
	users(un, t.Users.Items, byUser)
	devices(byUser, t.Devices)
	writeData(w, struct {
		Unit *unit `json:"unit"`
	}{un})
}

// manager: GET /manager?property= — the property → its first 50 units by
// number → their first 20 users each → their devices (4 statements, as
// portald).
func (s *server) manager(w http.ResponseWriter, r *http.Request) {
	v, ok := ids(r, "property")
	if !ok {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	p, err := s.store.PropertyByID(r.Context(), v[0])
	if err != nil {
		fail(w, err)
		return
	}
	pages, err := s.store.UnitPages(r.Context(), v, model.UnitPage{Limit: 50, SkipTotal: true})
	if err != nil {
		fail(w, err)
		return
	}
	out := &property{Name: p.Name, Units: connection[unit]{Edges: []edgeOf[unit]{}}}
	var units []*unit
	for _, u := range pages[p.ID].Items {
		un := &unit{ID: u.ID, Number: u.Number}
		units = append(units, un)
		out.Units.Edges = append(out.Units.Edges, edgeOf[unit]{un})
	}
	if err := s.children(r.Context(), units, 20); err != nil {
		fail(w, err)
		return
	}
	writeData(w, struct {
		Property *property `json:"property"`
	}{out})
}

// children loads each unit's first users, then their devices, one
// statement each.
func (s *server) children(ctx context.Context, units []*unit, first int) error {
	unitIDs := make([]uuid.UUID, len(units))
	for i, u := range units {
		unitIDs[i] = u.ID
	}
	pages, err := s.store.UnitUserPages(ctx, unitIDs, model.UserPage{Limit: first, SkipTotal: true})
	if err != nil {
		return err
	}
	byUser := map[uuid.UUID]*user{}
	var userIDs []uuid.UUID
	for _, un := range units {
		users(un, pages[un.ID].Items, byUser)
		for _, e := range un.Users.Edges {
			userIDs = append(userIDs, e.Node.ID)
		}
	}
	ds, err := s.store.DevicesByUserIDs(ctx, userIDs)
	if err != nil {
		return err
	}
	devices(byUser, ds)
	return nil
}

// users sets a unit's users and adds them to byUser.
func users(un *unit, items []model.UnitUser, byUser map[uuid.UUID]*user) {
	un.Users.Edges = make([]edgeOf[user], 0, len(items))
	for _, uu := range items {
		c := &user{ID: uu.ID, UserName: uu.UserName, Type: string(uu.Type), Passphrase: uu.Passphrase, Devices: []device{}}
		un.Users.Edges = append(un.Users.Edges, edgeOf[user]{c})
		byUser[c.ID] = c
	}
}

// devices adds each device to its user's.
func devices(byUser map[uuid.UUID]*user, ds []model.Device) {
	for _, d := range ds {
		u := byUser[d.UserID]
		u.Devices = append(u.Devices, device{MAC: d.MACAddress, DisplayName: d.DisplayName, OSType: d.OSType})
	}
}
