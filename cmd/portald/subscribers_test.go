package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// PostgreSQL restarts while 1,000 clients are subscribed: they are told to
// reconnect (close 1013), subscribe again once it is back — as graphql-ws
// clients do — and every one of them receives the change made after the
// recovery.
func TestSubscribersAcrossDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a PostgreSQL of its own, stopped and started: make test runs it, make check does not")
	}
	cluster := dbtest.StartCluster(t)
	s := start(t, map[string]string{"DATABASE_URL": cluster.URL, "REQUEST_TIMEOUT": "2s", "GRAPHQL_MAX_STREAMS_PER_CLIENT": "100000",
		"HTTP_MAX_CONNECTIONS_PER_CLIENT": "100000"}, nil)
	ctx := context.Background()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, cluster.URL, dbtest.Keys(t), db.Options{}))
	defer store.Close()
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Restart Row")}))
	var units []uuid.UUID
	for i := range 10 {
		units = append(units, dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: string(rune('A' + i))})).Unit.ID)
	}
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key

	const clients = 1000
	var subscribed, reconnects atomic.Int64
	seen := make([]atomic.Bool, clients)
	clientCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range clients {
		unit := units[i%len(units)]
		wg.Go(func() {
			wait := 100 * time.Millisecond
			for first := true; clientCtx.Err() == nil; first = false {
				if !first {
					reconnects.Add(1)
					select { // a client's retry delay: exponential with jitter, as graphql-ws clients do
					case <-clientCtx.Done():
						return
					case <-time.After(wait/2 + time.Duration(rand.Int64N(int64(wait)))):
					}
					wait = min(2*wait, 2*time.Second)
				}
				c, _, err := websocket.Dial(clientCtx, "ws"+strings.TrimPrefix(s.public, "http")+"/graphql",
					&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
				if err != nil {
					continue
				}
				init, _ := json.Marshal(map[string]string{"Authorization": key})
				q, _ := json.Marshal(map[string]any{"query": `subscription($p: ID!, $u: ID) { unitUpdated(propertyId: $p, unitId: $u) { description } }`,
					"variables": map[string]any{"p": p.ID, "u": unit}})
				_ = wsjson.Write(clientCtx, c, map[string]any{"type": "connection_init", "payload": json.RawMessage(init)})
				for {
					var m struct {
						Type    string          `json:"type"`
						Payload json.RawMessage `json:"payload"`
					}
					if wsjson.Read(clientCtx, c, &m) != nil {
						break
					}
					switch m.Type {
					case "connection_ack":
						_ = wsjson.Write(clientCtx, c, map[string]any{"id": "1", "type": "subscribe", "payload": json.RawMessage(q)})
						subscribed.Add(1)
					case "next":
						if !strings.Contains(string(m.Payload), `"errors"`) {
							wait = 100 * time.Millisecond // served: back to a short retry
						}
						if strings.Contains(string(m.Payload), "after recovery") {
							seen[i].Store(true)
						}
					case "complete": // refused (the database or the listener was away): subscribe again
						_ = c.Close(websocket.StatusNormalClosure, "")
					case "ping":
						_ = wsjson.Write(clientCtx, c, map[string]any{"type": "pong"})
					}
				}
				c.CloseNow()
			}
		})
	}
	defer func() { stopClients(); wg.Wait() }()
	waitUntil := func(what string, limit time.Duration, cond func() bool) time.Duration {
		start := time.Now()
		for !cond() {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %v", what, limit)
			}
			<-time.After(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitUntil("1,000 subscribed", 60*time.Second, func() bool { return subscribed.Load() >= clients })

	cluster.Stop()
	waitUntil("clients told to reconnect", 30*time.Second, func() bool { return reconnects.Load() >= clients })
	cluster.Start()
	writes, polls := 0, 0
	took := waitUntil("the change after recovery at every client", 60*time.Second, func() bool {
		// Write every half second, a new value each time so that each write
		// is an event, until it lands (the store reconnects by itself).
		if polls++; polls%25 == 1 {
			writes++
			for _, u := range units {
				_, _ = store.UpdateUnit(ctx, model.PropertyScope(p.ID), u, model.UnitUpdate{Description: dbtest.Ptr(fmt.Sprint("after recovery ", writes))})
			}
		}
		for i := range seen {
			if !seen[i].Load() {
				return false
			}
		}
		return true
	})
	t.Logf("%d clients across a PostgreSQL restart: %d reconnections; every one had the change %v after the restart",
		clients, reconnects.Load(), took.Round(time.Millisecond))
}
