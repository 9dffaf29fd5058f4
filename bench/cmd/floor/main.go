// Command floor serves the benchmark's reads with the least code possible:
// plain net/http and pgx, one `= ANY($1)` statement per nesting level, no
// GraphQL, authentication or rate limiting. It is the hand-written best case
// every other server is measured against.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
	unitID     uuid.UUID
}

type unit struct {
	ID     uuid.UUID `json:"id"`
	Number string    `json:"number"`
	Secret string    `json:"secret,omitempty"`
	Users  []*user   `json:"users"`
}

type server struct {
	pool *pgxpool.Pool
	keys *model.Keyring
}

func main() {
	keys, err := model.NewKeyring(os.Getenv("SECRET_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	// The same connection settings as portald: the floor is the best case.
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	// The same binary uuid codec as portald.
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		db.RegisterUUID(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	s := &server{pool: pool, keys: keys}
	http.HandleFunc("/user", s.user)
	http.HandleFunc("/resident", s.resident)
	http.HandleFunc("/manager", s.manager)
	log.Fatal(http.ListenAndServe(os.Getenv("LISTEN_ADDR"), nil))
}

func fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

func write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// user: GET /user?id= — one unit user (1 statement).
func (s *server) user(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	var u user
	var sealed []byte
	err = s.pool.QueryRow(r.Context(), `SELECT id, unit_id, user_name, type::text, passphrase_cipher FROM unit_users WHERE id = $1`, id).
		Scan(&u.ID, &u.unitID, &u.UserName, &u.Type, &sealed)
	if err != nil {
		fail(w, err)
		return
	}
	if u.Passphrase, err = s.keys.Decrypt(sealed, u.ID[:]); err != nil {
		fail(w, err)
		return
	}
	write(w, u)
}

// resident: GET /resident?unit= — unit → users → devices (3 statements).
func (s *server) resident(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.URL.Query().Get("unit"))
	if err != nil {
		http.Error(w, "bad unit", http.StatusBadRequest)
		return
	}
	units, err := s.units(r.Context(), `SELECT id, number FROM units WHERE id = ANY($1)`, []uuid.UUID{id})
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.children(r.Context(), units); err != nil {
		fail(w, err)
		return
	}
	write(w, units[0])
}

// manager: GET /manager?property=&first= — property's first units by number
// → users → devices (property, units, users, devices: 4 statements).
func (s *server) manager(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.URL.Query().Get("property"))
	first, _ := strconv.Atoi(r.URL.Query().Get("first"))
	if err != nil || first < 1 {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	var name string
	if err := s.pool.QueryRow(r.Context(), `SELECT name FROM properties WHERE id = ANY($1)`, []uuid.UUID{id}).Scan(&name); err != nil {
		fail(w, err)
		return
	}
	units, err := s.units(r.Context(), `SELECT id, number FROM units WHERE property_id = ANY($1) ORDER BY number LIMIT `+strconv.Itoa(first), []uuid.UUID{id})
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.children(r.Context(), units); err != nil {
		fail(w, err)
		return
	}
	write(w, map[string]any{"name": name, "units": units})
}

func (s *server) units(ctx context.Context, sql string, ids []uuid.UUID) ([]*unit, error) {
	rows, err := s.pool.Query(ctx, sql, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*unit, error) {
		u := &unit{Users: []*user{}}
		return u, r.Scan(&u.ID, &u.Number)
	})
}

// children loads the users of units, then the devices of those users, one
// statement each.
func (s *server) children(ctx context.Context, units []*unit) error {
	byUnit := map[uuid.UUID]*unit{}
	ids := make([]uuid.UUID, len(units))
	for i, u := range units {
		byUnit[u.ID], ids[i] = u, u.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT id, unit_id, user_name, type::text, passphrase_cipher FROM unit_users
	  WHERE unit_id = ANY($1) ORDER BY unit_id, id`, ids)
	if err != nil {
		return err
	}
	byUser := map[uuid.UUID]*user{}
	var userIDs []uuid.UUID
	var u user
	var sealed []byte
	_, err = pgx.ForEachRow(rows, []any{&u.ID, &u.unitID, &u.UserName, &u.Type, &sealed}, func() error {
		c := u
		c.Devices = []device{}
		var err error
		if c.Passphrase, err = s.keys.Decrypt(sealed, c.ID[:]); err != nil {
			return err
		}
		byUnit[c.unitID].Users = append(byUnit[c.unitID].Users, &c)
		byUser[c.ID] = &c
		userIDs = append(userIDs, c.ID)
		return nil
	})
	if err != nil {
		return err
	}
	rows, err = s.pool.Query(ctx, `SELECT user_id, mac_address, display_name, os_type FROM devices
	  WHERE user_id = ANY($1) ORDER BY user_id, mac_address`, userIDs)
	if err != nil {
		return err
	}
	var owner uuid.UUID
	var d device
	_, err = pgx.ForEachRow(rows, []any{&owner, &d.MAC, &d.DisplayName, &d.OSType}, func() error {
		byUser[owner].Devices = append(byUser[owner].Devices, d)
		return nil
	})
	return err
}
