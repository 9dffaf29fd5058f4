package rest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

func TestReadyzWithoutDatabase(t *testing.T) {
	store, err := db.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", dbtest.Keys(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := rest.NewHandler(rest.Deps{Service: service.New(store, dbtest.Keys(t), service.Options{}),
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: edge.NewMetrics(), RequestTimeout: 5 * time.Second,
		PublicBaseURL: "http://localhost:8080"})
	srv := httptest.NewServer(h)
	defer srv.Close()

	start := time.Now()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body edge.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || body.Status != "503 SERVICE_UNAVAILABLE" || body.ValidationErrors == nil {
		t.Fatalf("readyz = %d %+v", resp.StatusCode, body)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("readyz took %v; it must fail fast", took)
	}
	resp2, _ := http.Get(srv.URL + "/healthz")
	if resp2.StatusCode != 200 {
		t.Fatalf("healthz = %d without a database; the process is up", resp2.StatusCode)
	}
	resp3, _ := http.Post(srv.URL+"/healthz", "application/json", strings.NewReader("{}"))
	if resp3.StatusCode != 405 || resp3.Header.Get("Allow") == "" {
		t.Fatalf("POST /healthz = %d, Allow %q", resp3.StatusCode, resp3.Header.Get("Allow"))
	}
}
