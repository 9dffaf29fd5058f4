package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// TestPlaygroundInBrowser loads /graphiql from a running portald in headless
// Chromium, runs a query with a unit token from the headers editor, checks
// the result, and checks that the page asked no other host for anything.
func TestPlaygroundInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser: make test runs it, make check does not")
	}
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is required in CI (.ci/run installs it)")
		}
		t.Skip("no chromium on this machine")
	}
	url0 := dbtest.NewURL(t)
	store, err := db.Open(context.Background(), url0, dbtest.Keys(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	name := "Browser Court"
	p, err := store.CreateProperty(context.Background(), db.PropertyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.CreateUnit(context.Background(), db.NewUnit{PropertyID: p.ID, Number: "42"})
	if err != nil {
		t.Fatal(err)
	}
	login, err := service.New(store, dbtest.Keys(t), service.Options{}).Login(context.Background(), p.ID, u.PortalSecret)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, map[string]string{"DATABASE_URL": url0}, nil)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	var mu sync.Mutex
	var requested []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requested = append(requested, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	headers, _ := json.Marshal(map[string]string{"Authorization": login.Token})
	query := `query Mine($p: ID!) { unit(propertyId: $p) { number } }`
	variables, _ := json.Marshal(map[string]string{"p": p.ID.String()})
	page := s.public + "/graphiql?" + url.Values{"query": {query}, "variables": {string(variables)}, "headers": {string(headers)}}.Encode()

	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	run := chromedp.CSS(".graphiql-execute-button")
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(run), chromedp.Click(run)); err != nil {
		t.Fatalf("browser: %v", err)
	}
	result, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(() => { const r = document.querySelector('.result-window'); return r && r.innerText.includes('"number"') ? r.innerText : false; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if !strings.Contains(result, `"42"`) {
		t.Fatalf("result pane: %s", result)
	}
	mu.Lock()
	// unlocked below, before the page is used again
	if len(requested) < 5 {
		t.Fatalf("only %d requests seen: %v", len(requested), requested)
	}
	for _, r := range requested {
		if !strings.HasPrefix(r, s.public+"/") && !strings.HasPrefix(r, "data:") {
			t.Fatalf("the page requested another host: %s", r)
		}
	}
	t.Logf("GraphiQL ran the query in Chromium; %d requests, all to %s", len(requested), s.public)
	mu.Unlock()

	// A subscription over the page's WebSocket: a change made in the
	// database (as portalctl would) shows in the result pane.
	sub := `subscription Live($p: ID!) { unitUpdated(propertyId: $p) { number description } }`
	page = s.public + "/graphiql?" + url.Values{"query": {sub}, "variables": {string(variables)}, "headers": {string(headers)}}.Encode()
	partStart := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("browser: navigate: %v (%v)", err, time.Since(partStart))
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(run), chromedp.Click(run)); err != nil {
		t.Fatalf("browser: run: %v (%v)", err, time.Since(partStart))
	}
	// Change the unit until the page shows it (the page subscribes some time
	// after the click; events before that are not for it).
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 150; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_, _ = store.UpdateUnit(context.Background(), model.PropertyScope(p.ID), u.Unit.ID,
					model.UnitUpdate{Description: dbtest.Ptr(fmt.Sprint("seen live ", i))})
			}
		}
	}()
	result, err = chromedp.Run(ctx, chromedp.Poll[string](`(() => { const r = document.querySelector('.result-window');
	    return r && r.innerText.includes('seen live') ? r.innerText : false; })()`, chromedp.WithPollingTimeout(30*time.Second)))
	close(stop)
	<-writerDone
	if err != nil {
		pane, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('.result-window') || {}).innerText || 'no result window'`))
		t.Fatalf("subscription in the browser: %v; result pane: %q; logs: %s", err, pane, s.logs.String()[max(0, len(s.logs.String())-3000):])
	}
	t.Logf("GraphiQL ran a subscription over its WebSocket: %s", strings.Join(strings.Fields(result), " "))

	// The Token field: a login mutation run in the page fills it in, and
	// what follows runs with it, the Headers tab left as it is ({}).
	loginQuery := fmt.Sprintf(`mutation LogIn { login(propertyId: "%s", hashedSecret: "%s") { token } }`, p.ID, u.PortalSecret)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.public+"/graphiql?"+url.Values{"query": {loginQuery}}.Encode()),
		chromedp.WaitVisible(run), chromedp.Click(run)); err != nil {
		t.Fatalf("browser: log in: %v", err)
	}
	token, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const v = document.getElementById('token').value; return v.length > 20 ? v : false; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("the login's token did not fill the Token field: %v", err)
	}
	if _, err := service.New(store, dbtest.Keys(t), service.Options{}).Authenticator().Authenticate(context.Background(), token); err != nil {
		t.Fatalf("the Token field holds %q, not a token: %v", token, err)
	}
	// A token pasted into the field (the page opened afresh, no headers).
	page = s.public + "/graphiql?" + url.Values{"query": {query}, "variables": {string(variables)}}.Encode()
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(run), chromedp.SendKeys(chromedp.ID("token"), login.Token),
		chromedp.Click(run)); err != nil {
		t.Fatalf("browser: paste a token: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(() => { const r = document.querySelector('.result-window'); return r && r.innerText.includes('"42"') ? r.innerText : false; })()`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		pane, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('.result-window') || {}).innerText || 'no result window'`))
		t.Fatalf("a query with the pasted token: %v; result pane: %q", err, pane)
	}
}
