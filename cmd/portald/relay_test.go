package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
	"github.com/residentportal/bff/resolvers/delivery/relay/relaytest"
)

// portald with NATS_URL relays what a resident's REST write records: the
// change request goes PUBLISHED and its message is on the unit's subject
// (the machine's NATS, a stream of the test's own); the outbox gauges are
// on /metrics.
func TestPortaldRelaysChanges(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "portald")
	stream, prefix := cfg.Stream, cfg.SubjectPrefix

	url, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Relay Court")})
	ctx := context.Background()
	// Trusted documents enforced: portal-wifisync's documents are among them.
	s := start(t, map[string]string{"DATABASE_URL": url, "NATS_URL": relaytest.URL, "NATS_STREAM": stream, "NATS_SUBJECT_PREFIX": prefix,
		"GRAPHQL_TRUSTED_DOCUMENTS": "enforce"}, nil)

	base := fmt.Sprintf("%s/residents/properties/%s", s.public, p.ID)
	token := login(t, base, u.PortalSecret)
	if status, body := call(t, "PUT", base+"/units", `{"secret":""}`, "Authorization", token); status != 200 {
		t.Fatalf("PUT units: %d %s", status, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows := dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID))
		published := 0
		for _, r := range rows {
			if r.Status == model.ChangePublished {
				published++
			}
		}
		if len(rows) == 2 && published == 2 { // IDENTITY_CREATED, PASSPHRASE_CHANGED
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not relayed within 10 s: %+v", rows)
		}
		<-time.After(20 * time.Millisecond)
	}
	st := dbtest.Must[jetstream.Stream](t)(js.Stream(ctx, stream))
	last := dbtest.Must[*jetstream.RawStreamMsg](t)(st.GetLastMsgForSubject(ctx, prefix+"."+p.ID.String()+"."+u.Unit.ID.String()))
	if !strings.Contains(string(last.Data), `"kind":"PASSPHRASE_CHANGED"`) || strings.Contains(string(last.Data), u.Unit.Secret) {
		t.Fatalf("last message: %s", last.Data)
	}
	// The Wi-Fi side reports the passphrase change applied, twice (delivery
	// is at least once): the completion is counted once.
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
	rows := dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID))
	for range 2 {
		complete, _ := json.Marshal(map[string]any{"query": consumer.CompleteMutation, "variables": map[string]any{"p": p.ID, "id": rows[1].ID, "r": "APPLIED"}})
		if _, body := call(t, "POST", s.public+"/graphql", string(complete), "Authorization", key); !strings.Contains(body, `"status":"APPLIED"`) {
			t.Fatalf("completeChangeRequest: %s", body)
		}
	}
	// The one left PUBLISHED was published an hour ago, with no result.
	if _, err := store.Pool().Exec(ctx, `UPDATE change_requests SET published_at = now() - interval '1 hour' WHERE id = $1`, rows[0].ID); err != nil {
		t.Fatal(err)
	}
	_, metrics := get(t, s.metrics+"/metrics")
	var unanswered float64
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, "portal_outbox_oldest_published_seconds "); ok {
			unanswered, _ = strconv.ParseFloat(v, 64)
		}
	}
	if unanswered < 3600 || unanswered > 3700 {
		t.Fatalf("portal_outbox_oldest_published_seconds = %v, want about 3600", unanswered)
	}
	for _, want := range []string{`portal_outbox_requests{status="PUBLISHED"} 1`, `portal_outbox_requests{status="PENDING"} 0`,
		"portal_outbox_oldest_pending_seconds 0", "portal_outbox_published_total 2", `portal_outbox_completion_seconds_count{result="APPLIED"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, `portal_outbox_requests{status="APPLIED"}`) {
		t.Fatal("completed requests are counted by the completion histogram, not the in-flight gauge")
	}
}

// With OUTBOX_RETENTION, a change request the Wi-Fi side reported goes
// once the retention has passed (its id is then NOT_FOUND), a pending one
// stays, and /metrics counts what was pruned.
func TestPortaldPrunesCompletedChanges(t *testing.T) {
	url, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Retention Court")})
	ctx := context.Background()
	s := start(t, map[string]string{"DATABASE_URL": url, "OUTBOX_RETENTION": "2s"}, nil)
	base := fmt.Sprintf("%s/residents/properties/%s", s.public, p.ID)
	token := login(t, base, u.PortalSecret)
	if status, body := call(t, "PUT", base+"/units", `{"secret":""}`, "Authorization", token); status != 200 {
		t.Fatalf("PUT units: %d %s", status, body)
	}
	rows := dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID))
	if len(rows) != 2 { // IDENTITY_CREATED, PASSPHRASE_CHANGED
		t.Fatalf("%d change requests, want 2", len(rows))
	}
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
	complete, _ := json.Marshal(map[string]any{"query": consumer.CompleteMutation, "variables": map[string]any{"p": p.ID, "id": rows[1].ID, "r": "APPLIED"}})
	if _, body := call(t, "POST", s.public+"/graphql", string(complete), "Authorization", key); !strings.Contains(body, `"status":"APPLIED"`) {
		t.Fatalf("completeChangeRequest: %s", body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID))
		if len(left) == 1 {
			if left[0].ID != rows[0].ID || left[0].Status != model.ChangePending {
				t.Fatalf("left %+v, want the pending IDENTITY_CREATED", left[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the applied change request is still there 30 s later: %+v", left)
		}
		<-time.After(50 * time.Millisecond)
	}
	query, _ := json.Marshal(map[string]any{"query": `query($p: ID!, $id: ID!) { changeRequest(propertyId: $p, id: $id) { id } }`,
		"variables": map[string]any{"p": p.ID, "id": rows[1].ID}})
	if _, body := call(t, "POST", s.public+"/graphql", string(query), "Authorization", key); !strings.Contains(body, `"code":"NOT_FOUND"`) {
		t.Fatalf("changeRequest of a pruned id: %s", body)
	}
	if _, metrics := get(t, s.metrics+"/metrics"); !strings.Contains(metrics, "portal_outbox_pruned_total 1") {
		t.Fatal("metrics lack portal_outbox_pruned_total 1")
	}
}
