package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// TestLogsHoldNoSecret drives a full session through portald with debug
// logging and every span recorded — logins (good and bad), the portal link,
// reads, passphrase changes, a portal reset, manager-key use, malformed and
// oversized requests, errors — and then scans everything it logged and
// every span (names, attributes, events, status) for every passphrase,
// portal secret, token and key that passed through it.
func TestLogsHoldNoSecret(t *testing.T) {
	url := dbtest.NewURL(t)
	s, exp := traced(t, map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "debug"})
	ctx := context.Background()
	store, err := db.Open(ctx, url, dbtest.Keys(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	yes, name := true, "Quiet House"
	p, err := store.CreateProperty(ctx, db.PropertyInput{Name: &name, AllowSeparateGuestSecret: &yes, TenantSetDpsk: &yes})
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := store.CreateManagerKey(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{dbtest.TestSecretKey, u.PortalSecret, u.Unit.Secret, *u.Unit.GuestSecret, key.Key}

	call := func(method, path, body string, header ...string) map[string]any {
		req, _ := http.NewRequest(method, s.public+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	base := fmt.Sprintf("/residents/properties/%s", p.ID)
	login := call("POST", base+"/units/logins", fmt.Sprintf(`{"hashedSecret":%q}`, u.PortalSecret))
	token, _ := login["token"].(string)
	if token == "" {
		t.Fatalf("login: %v", login)
	}
	secrets = append(secrets, token)
	auth := []string{"Authorization", token}
	call("POST", base+"/units/logins", `{"hashedSecret":"a-wrong-guess-at-the-secret"}`)
	call("GET", "/portal/?propertyId="+p.ID.String()+"&auth="+u.PortalSecret, "", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	call("GET", base+"/units", "", auth...)
	chosen := "chosen-passphrase-77"
	secrets = append(secrets, chosen)
	call("PUT", base+"/units", fmt.Sprintf(`{"secret":%q,"guestSecret":""}`, chosen), auth...)
	call("PUT", base+"/units", fmt.Sprintf(`{"guestSecret":%q}`, chosen), auth...) // 409
	call("PUT", base+"/units", `{"secret":"short"}`, auth...)                      // 400
	call("POST", base+"/units/users/query", `{}`, auth...)
	call("GET", base+"/units", "", "Authorization", "Bearer "+token+"tampered")
	call("PUT", base+"/units", `{"secret":"`+strings.Repeat("s", 70<<10)+`"}`, auth...) // 413
	call("POST", base+"/units/logins", `{"hashedSecret": "`+u.PortalSecret+`"`)         // malformed JSON
	gql := func(q string, header ...string) map[string]any {
		b, _ := json.Marshal(map[string]any{"query": q})
		return call("POST", "/graphql", string(b), header...)
	}
	gql(fmt.Sprintf(`mutation { login(propertyId: "%s", hashedSecret: "%s") { token } }`, p.ID, u.PortalSecret))
	gql(fmt.Sprintf(`{ unit(propertyId: "%s") { secret guestSecret users { edges { node { passphrase } } } } }`, p.ID), auth...)
	gql(fmt.Sprintf(`{ property(propertyId: "%s") { units { edges { node { secret } } } } }`, p.ID), "Authorization", key.Key)
	gql(`{ broken syntax `+u.PortalSecret, auth...)
	call("POST", "/graphql", `{"query": "`+token, auth...)
	res := call("PUT", base+"/units", `{"status":"TOKEN_RESET"}`, auth...)
	if res["guid"] == nil {
		t.Fatalf("reset: %v", res)
	}
	now, err := store.UnitByID(ctx, model.PropertyScope(p.ID), u.Unit.ID)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := store.PortalSecret(ctx, model.PropertyScope(p.ID), u.Unit.ID)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, *now.GuestSecret, fresh)

	logs := s.logs.String()
	if !strings.Contains(logs, `"level":"DEBUG"`) && !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("nothing logged: %q", logs)
	}
	lines := strings.Count(logs, "\n")
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain a secret (%d characters, starting %q)", len(secret), secret[:4])
		}
	}
	var spans strings.Builder
	for _, sp := range exp.GetSpans() {
		fmt.Fprintf(&spans, "%s %v %v %v %v\n", sp.Name, sp.Attributes, sp.Events, sp.Status, sp.Links)
	}
	if !strings.Contains(spans.String(), "query SELECT") || !strings.Contains(spans.String(), "PUT /residents/properties/{propertyId}/units") {
		t.Fatalf("spans not recorded:\n%s", spans.String())
	}
	for _, secret := range secrets {
		if strings.Contains(spans.String(), secret) {
			t.Errorf("a span holds a secret (%d characters, starting %q)", len(secret), secret[:4])
		}
	}
	t.Logf("%d log lines and %d spans scanned for %d secrets", lines, len(exp.GetSpans()), len(secrets))
}
