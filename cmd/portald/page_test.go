package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/gif"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/radius/radiustest"
)

// The resident page, end to end in headless Chromium at 360×740, with
// trusted documents allowed and enforced: a printed portal link opens the
// unit; the QR code decodes to the exact Wi-Fi string; a regeneration shows
// the new passphrase and its change request moving on; a device added by
// portalctl appears without a reload and is removed; axe-core finds no
// serious or critical violation; a reset from elsewhere, sign out
// everywhere, a bad link and a closed portal each show their page.
func TestResidentPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser: make test runs it, make check does not")
	}
	for _, mode := range []string{"allow", "enforce"} {
		t.Run(mode, func(t *testing.T) { residentPage(t, mode) })
	}
}

var portalctlOnce struct {
	sync.Once
	path string
	err  error
}

// portalctlBinary builds portalctl once per test run.
func portalctlBinary(t *testing.T) string {
	t.Helper()
	portalctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portalctl-")
		if err != nil {
			portalctlOnce.err = err
			return
		}
		portalctlOnce.path = filepath.Join(dir, "portalctl")
		out, err := exec.Command("go", "build", "-o", portalctlOnce.path, "../portalctl").CombinedOutput()
		if err != nil {
			portalctlOnce.err = fmt.Errorf("%v: %s", err, out)
		}
	})
	if portalctlOnce.err != nil {
		t.Fatal(portalctlOnce.err)
	}
	return portalctlOnce.path
}

// browser starts headless Chromium at a phone's size and records every
// request the page makes; at the end of the test it fails on any uncaught
// exception or Content-Security-Policy violation the page met.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is required: make test installs it (.ci/services.sh chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(cancelTimeout)
	var mu sync.Mutex
	var requested []string
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requested = append(requested, e.Request.URL)
		case *cdpruntime.EventExceptionThrown:
			what := e.ExceptionDetails.Text
			if x := e.ExceptionDetails.Exception; x != nil {
				what += " " + x.Description
			}
			problems = append(problems, "uncaught: "+what)
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError && len(e.Args) > 0 && strings.Contains(string(e.Args[0].Value), "Content-Security-Policy") {
				problems = append(problems, "console: "+string(e.Args[0].Value))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) > 0 {
			t.Errorf("the page met: %v", problems)
		}
	})
	if _, err := chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	// CSP violations are reported to the page; it records them for the test.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `document.addEventListener('securitypolicyviolation', e => window.__probingCSP ||
		  console.error('Content-Security-Policy: ' + e.violatedDirective + ' ' + e.blockedURI))`}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatalf("browser: %v", err)
	}
	return ctx, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), requested...) }
}

// poll waits until the page's expression is truthy and returns its value.
func poll[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		shot, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, shot)
	}
	return v
}

func byTestID(id string) string { return fmt.Sprintf(`document.querySelector('[data-testid=%q]')`, id) }

func residentPage(t *testing.T, mode string) {
	ctx0 := context.Background()
	dbURL := dbtest.NewURL(t)
	store := dbtest.Must[*db.DB](t)(db.Open(ctx0, dbURL, dbtest.Keys(t), db.Options{}))
	defer store.Close()
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx0, db.PropertyInput{Name: dbtest.Ptr("Harbour Court"),
		SSIDs: []string{`Harbour;Net`}, TenantSetDpsk: dbtest.Ptr(true), AllowSeparateGuestSecret: dbtest.Ptr(true),
		Title: dbtest.Ptr("Harbour Wi-Fi"), MainColor: dbtest.Ptr("#1f4e79"), AccentColor: dbtest.Ptr("#f5a623"),
		MaxDevicesPerIdentity: dbtest.Ptr(3)}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx0, db.NewUnit{PropertyID: p.ID, Number: "7",
		Contact: model.Contact{ContactName: "Ada", Email: "ada@example.org", PhoneNumber: "+41 44 123"}}))
	radiusAddr := make(chan string, 1)
	s := startWith(t, map[string]string{"DATABASE_URL": dbURL, "GRAPHQL_TRUSTED_DOCUMENTS": mode, "RADIUS_ADDR": "127.0.0.1:0"},
		hooks{radius: func(auth, _ string) { radiusAddr <- auth }})
	radiusServer := <-radiusAddr
	ctl := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(portalctlBinary(t), args...)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "SECRET_KEY="+dbtest.TestSecretKey, "PUBLIC_BASE_URL="+s.public)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("portalctl %v: %v %s", args, err, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("portalctl %v: %s", args, out)
		}
		return m
	}
	link := ctl("unit", "show", "--unit", u.Unit.ID.String())["portalUrl"].(string)
	resp, _ := get(t, link)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") ||
		!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "unsafe") ||
		resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("the page's security headers: %v", resp.Header)
	}
	ctx, requested := browser(t)

	// The printed link opens the unit; auth leaves the address bar and is
	// kept nowhere.
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatalf("browser: %v", err)
	}
	shown := poll[string](t, ctx, "the UNIT passphrase", byTestID("passphrase-UNIT")+`?.textContent`)
	t.Logf("passphrase shown %v after navigating", time.Since(start).Round(time.Millisecond))
	if shown != u.Unit.Secret {
		t.Fatalf("shown passphrase %q, the unit's is %q", shown, u.Unit.Secret)
	}
	if guest := poll[string](t, ctx, "the GUEST passphrase", byTestID("passphrase-GUEST")+`?.textContent`); guest != *u.Unit.GuestSecret {
		t.Fatalf("guest passphrase %q", guest)
	}
	kept := poll[string](t, ctx, "state", `location.href + '|' + JSON.stringify(sessionStorage) + '|' + JSON.stringify(localStorage) + '|' + document.cookie + '|' + history.length`)
	if strings.Contains(kept, u.PortalSecret) || strings.Contains(kept, "auth=") {
		t.Fatalf("the portal secret is still in the address, storage or cookies: %s", kept)
	}

	// The QR code is the Wi-Fi string, escaped.
	qr := func(t *testing.T, kind string) string {
		t.Helper()
		src := poll[string](t, ctx, "QR code", byTestID("wifi-qr-"+kind)+`?.src`)
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/gif;base64,"))
		if err != nil {
			t.Fatalf("QR image %.40s…: %v", src, err)
		}
		img, err := gif.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
		res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("QR does not decode: %v", err)
		}
		return res.GetText()
	}
	if got, want := qr(t, "UNIT"), `WIFI:T:WPA;S:Harbour\;Net;P:`+u.Unit.Secret+`;;`; got != want {
		t.Fatalf("QR = %q, want %q", got, want)
	}

	// Regenerate: the new passphrase shows, and its change request moves
	// from "applying…" to "applied" when the Wi-Fi side reports it.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`), chromedp.Click(`[data-testid="regenerate-UNIT"]`)); err != nil {
		t.Fatal(err)
	}
	next := poll[string](t, ctx, "the new passphrase", fmt.Sprintf(`(t => t && t !== %q && t)(%s?.textContent)`, shown, byTestID("passphrase-UNIT")))
	now := dbtest.Must[model.Unit](t)(store.UnitByID(ctx0, model.PropertyScope(p.ID), u.Unit.ID))
	if next != now.Secret {
		t.Fatalf("page shows %q, the unit's passphrase is %q", next, now.Secret)
	}
	if got := qr(t, "UNIT"); !strings.Contains(got, ";P:"+next+";;") {
		t.Fatalf("QR after regenerating = %q", got)
	}
	var change model.ChangeRequest
	for _, c := range dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx0, u.Unit.ID)) {
		if c.Kind == model.ChangePassphrase {
			change = c
		}
	}
	row := fmt.Sprintf(`document.querySelector('[data-testid="change-%s"]')`, change.ID)
	if state := poll[string](t, ctx, "the change request", row+`?.textContent`); !strings.Contains(state, "applying") {
		t.Fatalf("change request row: %q", state)
	}
	dbtest.Must[model.ChangeRequest](t)(func() (model.ChangeRequest, error) {
		c, _, err := store.CompleteChangeRequest(ctx0, p.ID, change.ID, model.ChangeApplied, nil)
		return c, err
	}())
	poll[bool](t, ctx, "the change request applied", row+`?.dataset.status === 'APPLIED' && `+row+`.textContent.includes('applied')`)

	// A device added by portalctl appears live, and is removed from the page.
	const mac = "AA:BB:CC:DD:EE:01"
	ctl("device", "add", "--user", u.Unit.UnitUserID.String(), "--mac", mac, "--name", "Test phone", "--os", "Android")
	poll[bool](t, ctx, "the device added by portalctl", byTestID("device-"+mac)+` !== null && window.__sameDocument === true`)
	screenshots(t, ctx, mode)
	// An access point reports the device's session (RADIUS accounting, as
	// the RADIUS server records it): the page shows it online, live.
	ap := radiustest.StartNAS(t) // the access point's CoA port
	nas := dbtest.Must[db.CreatedNAS](t)(store.CreateNAS(ctx0, model.NAS{PropertyID: p.ID, Name: "lobby",
		Address: netip.MustParsePrefix("127.0.0.1/32"), Profile: model.NASHostapd, CoAPort: ap.Addr.Port}))
	ap.SetSecret(nas.Secret)
	if _, err := store.Accounting(ctx0, model.Accounting{PropertyID: p.ID, NASID: nas.NAS.ID, Status: model.AcctStart, MAC: mac,
		SessionID: "s-1", OnlineUntil: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the device online", byTestID("online-"+mac)+`?.textContent.includes('Online') === true`)
	// The property caps an identity's devices at 3: the page says how many.
	poll[bool](t, ctx, "the device count", byTestID("devices-title-"+u.Unit.UnitUserID.String())+`?.textContent.includes('1 of 3 devices') === true`)
	if err := chromedp.Do(ctx, chromedp.Click(`[data-testid="remove-device-`+mac+`"]`)); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the device removed", byTestID("device-"+mac)+` === null`)
	if devices := dbtest.Must[[]model.Device](t)(store.DevicesByUnitIDs(ctx0, []uuid.UUID{u.Unit.ID}, nil)); len(devices) != 0 {
		t.Fatalf("devices after removal: %v", devices)
	}
	// Its session ends on the air: the access point receives the
	// Disconnect-Request and acknowledges it, and the page says "applied".
	removal := func() string { // the row of the device's latest removal
		found := "null"
		for _, c := range dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx0, u.Unit.ID)) {
			if c.Kind == model.ChangeDeviceRemoved && c.MACAddress != nil && *c.MACAddress == mac {
				found = fmt.Sprintf(`document.querySelector('[data-testid="change-%s"]')`, c.ID)
			}
		}
		return found
	}
	row = removal()
	poll[bool](t, ctx, "the removal applied on the air", row+`?.dataset.status === 'APPLIED' && `+row+`.textContent.includes('applied')`)
	if got, bad := ap.Received(); len(got) != 1 || got[0].AcctSessionID != "s-1" || len(bad) > 0 {
		t.Fatalf("the access point received %+v, refused %v", got, bad)
	}
	// The removed device is listed as blocked, and allowed again from the page.
	poll[bool](t, ctx, "the blocked device", byTestID("blocked-device-"+mac)+` !== null`)
	if err := chromedp.Do(ctx, chromedp.Click(`[data-testid="allow-device-`+mac+`"]`)); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the device allowed", byTestID("blocked-device-"+mac)+` === null`)
	// An access point that refuses: the page says "failed", with its reason.
	ap.SetAnswer(radiustest.Answer{NAK: true, Cause: 506})
	ctl("device", "add", "--user", u.Unit.UnitUserID.String(), "--mac", mac, "--name", "Test phone")
	if _, err := store.Accounting(ctx0, model.Accounting{PropertyID: p.ID, NASID: nas.NAS.ID, Status: model.AcctStart, MAC: mac,
		SessionID: "s-2", OnlineUntil: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the device online again", byTestID("online-"+mac)+` !== null`)
	if err := chromedp.Do(ctx, chromedp.Click(`[data-testid="remove-device-`+mac+`"]`)); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the device removed again", byTestID("device-"+mac)+` === null`)
	row = removal()
	poll[bool](t, ctx, "the refused removal", row+`?.dataset.status === 'FAILED' && `+row+`.textContent.includes('failed') && `+
		row+`.textContent.includes('Resources-Unavailable')`)
	ap.SetAnswer(radiustest.Answer{})

	// A device the product has never seen joins by handshake (dynamic PSK,
	// through the access point's RADIUS request): it appears on the page
	// and in REST's device list.
	const joined = "02:00:00:00:77:01"
	secret := dbtest.Must[model.Unit](t)(store.UnitByID(ctx0, model.UnitScope(p.ID, u.Unit.ID), u.Unit.ID)).Secret
	attrs, err := radiustest.HandshakeAttributes(joined, secret, `Harbour;Net`)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second) // the access point is read within 5 s; PMKs derive in the background
	for out, _ := radiustest.Radclient(radiusServer, "auth", nas.Secret, attrs...); !strings.Contains(out, "Received Access-Accept"); out, _ = radiustest.Radclient(radiusServer, "auth", nas.Secret, attrs...) {
		if time.Now().After(deadline) {
			t.Fatalf("the handshake of a new device:\n%s", out)
		}
		<-time.After(200 * time.Millisecond)
		if attrs, err = radiustest.HandshakeAttributes(joined, secret, `Harbour;Net`); err != nil {
			t.Fatal(err)
		}
	}
	poll[bool](t, ctx, "the device that joined by handshake", byTestID("device-"+joined)+` !== null`)
	base := s.public + "/residents/properties/" + p.ID.String()
	status, body := call(t, "GET", base+"/units/devices?type=UNIT", "", "Authorization", "Bearer "+login(t, base, u.PortalSecret))
	if status != 200 || !strings.Contains(body, joined) {
		t.Fatalf("REST's device list: %d %s", status, body)
	}

	// A chosen passphrase is checked on the page as on the server.
	if err := chromedp.Do(ctx, chromedp.Click(`#identity-`+u.Unit.UnitUserID.String()+` ~ .actions .secondary`),
		chromedp.SendKeys(`[data-testid="choose-UNIT"]`, "short"), chromedp.Click(`[data-testid="save-UNIT"]`)); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the page's passphrase rule", `document.querySelector('[aria-invalid="true"]') !== null`)
	if taken := dbtest.Must[model.Unit](t)(store.UnitByID(ctx0, model.PropertyScope(p.ID), u.Unit.ID)); taken.Secret != next {
		t.Fatal("an invalid passphrase reached the server")
	}
	// What only the server knows (the guest's passphrase is taken) comes back in its words.
	guest := *u.Unit.GuestSecret
	if err := chromedp.Do(ctx, chromedp.SendKeys(`[data-testid="choose-UNIT"]`, strings.Repeat(kb.Backspace, len("short"))+guest),
		chromedp.Click(`[data-testid="save-UNIT"]`)); err != nil {
		t.Fatal(err)
	}
	if msg := poll[string](t, ctx, "the server's refusal", byTestID("message-UNIT")+`?.textContent`); !strings.Contains(msg, "already used in this property") {
		t.Fatalf("message %q", msg)
	}

	axeCheck(t, ctx)
	// The CSP holds: an inline script injected into the page does not run.
	probe, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__probingCSP = true; new Promise(done => {
	    document.addEventListener('securitypolicyviolation', e => done(e.effectiveDirective), { once: true });
	    const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true'; document.body.append(s);
	    setTimeout(() => done('no violation'), 5000);
	  }).then(d => { window.__probingCSP = false; return d + (window.__inlineRan ? ' but it ran' : ''); })`, chromedp.EvalAwaitPromise))
	if err != nil || probe != "script-src-elem" {
		t.Fatalf("inline script under the page's CSP: %q %v", probe, err)
	}

	// A reset from another device ends this session on the page.
	ctl("unit", "reset-access", "--unit", u.Unit.ID.String())
	poll[bool](t, ctx, "the revoked page", byTestID("portal-error")+`?.dataset.failure === 'revoked'`)

	// A fresh link, then sign out everywhere.
	link = ctl("unit", "show", "--unit", u.Unit.ID.String())["portalUrl"].(string)
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	poll[string](t, ctx, "the unit again", byTestID("passphrase-UNIT")+`?.textContent`)
	if err := chromedp.Do(ctx, chromedp.Click(`[data-testid="sign-out-everywhere"]`)); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "signed out", byTestID("portal-error")+`?.dataset.failure === 'revoked'`)
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil { // the old link no longer works
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the old link refused", byTestID("portal-error")+`?.dataset.failure === 'invalid-link'`)

	// A closed portal says so.
	dbtest.Must[model.Property](t)(store.UpdateProperty(ctx0, p.ID, db.PropertyInput{PortalAllowed: dbtest.Ptr(false)}))
	if err := chromedp.Do(ctx, chromedp.Navigate(s.public+"/portal/?propertyId="+p.ID.String()+"&auth=whatever")); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the portal-off page", byTestID("portal-error")+`?.dataset.failure === 'portal-off'`)

	for _, r := range requested() {
		if !strings.HasPrefix(r, s.public+"/") && !strings.HasPrefix(r, "data:") && !strings.HasPrefix(r, strings.Replace(s.public, "http", "ws", 1)+"/") {
			t.Fatalf("the page requested another host: %s", r)
		}
	}
	if strings.Contains(s.logs.String(), u.PortalSecret) {
		t.Fatal("the portal secret is in portald's log")
	}
}

// axeCheck runs axe-core (from the page's npm packages) in the page and
// fails on any serious or critical violation.
func axeCheck(t *testing.T, ctx context.Context) {
	t.Helper()
	src, err := os.ReadFile("../../graph/portal/web/node_modules/axe-core/axe.min.js")
	if err != nil {
		t.Fatalf("axe-core: %v (make page installs it)", err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[string](string(src)+`;
		axe.run(document, { resultTypes: ['violations'] }).then(r => JSON.stringify(
		  r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
		    .map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')) }))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	if found != "[]" {
		t.Fatalf("axe-core: serious or critical violations: %s", found)
	}
}

// screenshots writes the page at a phone's and a desktop's size to
// $PAGE_SCREENSHOTS (make screenshots: docs/), once, in allow mode.
func screenshots(t *testing.T, ctx context.Context, mode string) {
	dir := os.Getenv("PAGE_SCREENSHOTS")
	if dir == "" || mode != "allow" {
		return
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"phone", 360, 740}, {"desktop", 1280, 800}} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h), chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "page-"+size.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatal(err)
	}
}

// Faults the page meets: the limiter's 429 (it says the server is busy and
// goes on once admitted) and a server restart (it says it is reconnecting,
// then shows what changed meanwhile and is live again).
func TestResidentPageFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser: make test runs it, make check does not")
	}
	ctx0 := context.Background()
	dbURL := dbtest.NewURL(t)
	store := dbtest.Must[*db.DB](t)(db.Open(ctx0, dbURL, dbtest.Keys(t), db.Options{}))
	defer store.Close()
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx0, db.PropertyInput{Name: dbtest.Ptr("Busy Court"), SSIDs: []string{"Busy"}}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx0, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	ln := dbtest.Must[net.Listener](t)(net.Listen("tcp", "127.0.0.1:0"))
	addr := ln.Addr().String()
	ln.Close()
	// The property's bucket holds two calls (the page's first query has two root fields), one more every two seconds.
	env := map[string]string{"DATABASE_URL": dbURL, "LISTEN_ADDR": addr, "RATE_LIMIT_BURST": "2", "RATE_LIMIT_PER_SECOND": "0.5"}
	s := start(t, env, nil)
	ctx, _ := browser(t)
	link := s.public + "/portal/?propertyId=" + p.ID.String() + "&auth=" + u.PortalSecret
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the busy notice", `document.querySelector('.notice')?.textContent.includes('busy') ?? false`)
	if got := poll[string](t, ctx, "the passphrase once admitted", byTestID("passphrase-UNIT")+`?.textContent`); got != u.Unit.Secret {
		t.Fatalf("passphrase %q", got)
	}
	poll[bool](t, ctx, "live, once the subscriptions are admitted", `document.querySelector('.live')?.textContent.startsWith('Live') ?? false`)

	// The server restarts; a device added while it is down shows after.
	s.stop()
	<-s.done
	poll[bool](t, ctx, "reconnecting", `document.querySelector('.live')?.textContent.includes('Reconnecting') ?? false`)
	dbtest.Must[model.Device](t)(store.AddDevice(ctx0, model.PropertyScope(p.ID), db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: "AA:BB:CC:DD:EE:02", DisplayName: "Laptop"}))
	env["RATE_LIMIT_BURST"], env["RATE_LIMIT_PER_SECOND"] = "100", "80"
	start(t, env, nil)
	poll[bool](t, ctx, "the device added while the server was down", byTestID("device-AA:BB:CC:DD:EE:02")+` !== null`)
	poll[bool](t, ctx, "live again", `document.querySelector('.live')?.textContent.startsWith('Live') ?? false`)
	if got := poll[string](t, ctx, "no failure page", `document.querySelector('[data-testid="portal-error"]') === null ? 'ok' : 'failed'`); got != "ok" {
		t.Fatal("the restart ended the session")
	}
}
