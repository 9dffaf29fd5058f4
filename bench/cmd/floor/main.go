// Command floor serves the benchmark's reads with the least code possible
// around portald's own storage layer: plain net/http and the db package's
// statements (the ones portald sends for the same reads, one per nesting
// level), with portald's runtime settings — but no GraphQL, no
// authentication, no rate limiting. It is the best case every other server
// is measured against; floor_test.go checks that it returns the same data
// as portald for the benchmark's queries.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	_ "net/http/pprof" // on PPROF_ADDR only, for comparing profiles with portald's
	"os"
	"runtime/debug"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

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

type unit struct {
	ID     uuid.UUID `json:"id"`
	Number string    `json:"number"`
	Users  []*user   `json:"users"`
}

type server struct{ store *db.DB }

func main() {
	// portald's garbage-collector settings (cmd/portald/main.go), unless
	// the environment sets its own.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(36 << 20)
	}
	keys, err := model.NewKeyring(os.Getenv("SECRET_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	// db.Open: portald's pool settings (generic plans, binary uuids).
	store, err := db.Open(context.Background(), os.Getenv("DATABASE_URL"), keys, db.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		go func() { log.Print(http.ListenAndServe(addr, nil)) }()
	}
	log.Fatal(http.ListenAndServe(os.Getenv("LISTEN_ADDR"), (&server{store}).routes()))
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/user", s.user)
	mux.HandleFunc("/resident", s.resident)
	mux.HandleFunc("/manager", s.manager)
	return mux
}

func fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

func write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
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

// user: GET /user?property=&id= — one unit user (1 statement).
func (s *server) user(w http.ResponseWriter, r *http.Request) {
	v, ok := ids(r, "property", "id")
	if !ok {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	u, err := s.store.UnitUserByID(r.Context(), model.PropertyScope(v[0]), v[1])
	if err != nil {
		fail(w, err)
		return
	}
	write(w, &user{ID: u.ID, UserName: u.UserName, Type: string(u.Type), Passphrase: u.Passphrase})
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
	t, err := s.store.UnitTree(r.Context(), scope, v[1], model.UserPage{Limit: 100, SkipTotal: true}, true)
	if err != nil {
		fail(w, err)
		return
	}
	un := &unit{ID: t.Unit.ID, Number: t.Unit.Number}
	byUser := make(map[uuid.UUID]*user, len(t.Users.Items))
	users(un, t.Users.Items, byUser)
	devices(byUser, t.Devices)
	write(w, un)
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
	units := []*unit{}
	for _, u := range pages[p.ID].Items {
		units = append(units, &unit{ID: u.ID, Number: u.Number})
	}
	if err := s.children(r.Context(), units, 20); err != nil {
		fail(w, err)
		return
	}
	write(w, map[string]any{"name": p.Name, "units": units})
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
		for _, u := range un.Users {
			userIDs = append(userIDs, u.ID)
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
	un.Users = []*user{}
	for _, uu := range items {
		c := &user{ID: uu.ID, UserName: uu.UserName, Type: string(uu.Type), Passphrase: uu.Passphrase, Devices: []device{}}
		un.Users = append(un.Users, c)
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
