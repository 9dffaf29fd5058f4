// Command pagebench measures the resident page for `make bench` and prints
// a section of BENCHMARKS.md: its weight (what a cold load transfers, and
// gzipped) and the time from navigating to a portal link to the shown
// passphrase, over loopback in headless Chromium with the cache disabled
// (every load cold), at a phone's size.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/db"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:18080", "portald")
	dbURL := flag.String("db", "", "benchmark database")
	loads := flag.Int("loads", 20, "cold loads timed")
	dist := flag.String("dist", "graph/portal/dist", "the page's build")
	flag.Parse()
	ctx := context.Background()

	store, _ := bench.Store(ctx, *dbURL)
	defer store.Close()
	name := "Page Bench Court"
	p, err := store.CreateProperty(ctx, db.PropertyInput{Name: &name, SSIDs: []string{"Bench"}})
	if err != nil {
		log.Fatal(err)
	}
	u, err := store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"})
	if err != nil {
		log.Fatal(err)
	}
	link := *base + "/portal/?propertyId=" + p.ID.String() + "&auth=" + u.PortalSecret

	type asset struct {
		name      string
		raw, gzip int
	}
	var assets []asset
	var js, css asset
	_ = filepath.WalkDir(*dist, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(b)
		_ = w.Close()
		a := asset{strings.TrimPrefix(path, *dist+"/"), len(b), gz.Len()}
		assets = append(assets, a)
		switch filepath.Ext(path) {
		case ".js":
			js.raw, js.gzip = js.raw+a.raw, js.gzip+a.gzip
		case ".css":
			css.raw, css.gzip = css.raw+a.raw, css.gzip+a.gzip
		}
		return nil
	})

	path, err := exec.LookPath("chromium")
	if err != nil {
		log.Fatal("chromium: ", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true))
	allocCtx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	var shown []time.Duration
	var requests int
	for i := 0; i < *loads+2; i++ { // two loads warm the server, not the browser
		tab, cancelTab := chromedp.NewContext(allocCtx)
		n := 0
		if err := chromedp.Listen(tab, func(ev any) {
			if _, ok := ev.(*network.EventRequestWillBeSent); ok {
				n++
			}
		}); err != nil {
			log.Fatal(err)
		}
		if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
			log.Fatal(err)
		}
		if _, err := chromedp.Call(tab, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
			log.Fatal(err)
		}
		if err := chromedp.Do(tab, chromedp.EmulateViewport(360, 740), chromedp.Navigate(link)); err != nil {
			log.Fatal(err)
		}
		// performance.now() is the time since the navigation started, read
		// in the frame the passphrase first shows in.
		ms, err := chromedp.Run(tab, chromedp.Poll[float64](
			`(e => e && e.textContent ? performance.now() : false)(document.querySelector('[data-testid="passphrase-UNIT"]'))`,
			chromedp.WithPollingTimeout(20*time.Second)))
		cancelTab()
		if err != nil {
			log.Fatal("passphrase not shown: ", err)
		}
		if i >= 2 {
			shown = append(shown, time.Duration(ms*float64(time.Millisecond)))
			requests = n
		}
	}
	slices.Sort(shown)

	fmt.Printf("\n## Resident page: weight and a cold load\n\n")
	fmt.Printf("`pagebench`: the page's build as portald serves it (gzip -9 sizes are what a compressing proxy would send), and %d cold loads "+
		"(cache disabled, a new tab each) of a portal link in headless Chromium at 360×740 over loopback, timed from the navigation's start "+
		"to the frame that shows the UNIT passphrase (login, the unit query and the page's own work included).\n\n", *loads)
	fmt.Printf("| asset | bytes | gzipped |\n|---|---:|---:|\n")
	for _, a := range assets {
		fmt.Printf("| %s | %d | %d |\n", a.name, a.raw, a.gzip)
	}
	fmt.Printf("| **JavaScript** (budget 80 KB gzipped) | %d | **%d** |\n| **CSS** | %d | %d |\n\n", js.raw, js.gzip, css.raw, css.gzip)
	fmt.Printf("| time to the shown passphrase | p50 | p90 | min | max | requests per load |\n|---|---:|---:|---:|---:|---:|\n")
	fmt.Printf("| cold load, loopback | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %d |\n", bench.Ms(bench.Pct(shown, 0.5)),
		bench.Ms(bench.Pct(shown, 0.9)), bench.Ms(shown[0]), bench.Ms(shown[len(shown)-1]), requests)
}
