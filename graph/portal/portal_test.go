package portal_test

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/residentportal/bff/graph/portal"
	"github.com/residentportal/bff/resolvers"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// The committed manifest is the page's operations, each valid against the
// schema and within the default complexity limit. (CI also rebuilds the
// page and fails if manifest.json or dist/ differ from what is committed.)
func TestManifestIsThePagesOperations(t *testing.T) {
	m, err := resolvers.ParseManifest(portal.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	var inManifest []string
	for _, op := range m.Operations {
		inManifest = append(inManifest, op.Name)
		costs, err := resolvers.CheckDocument(op.Body)
		if err != nil {
			t.Fatalf("%s does not validate against the schema: %v", op.Name, err)
		}
		if len(costs) != 1 {
			t.Fatalf("%s: %d operations in one document", op.Name, len(costs))
		}
		if cost, ok := costs[op.Name]; !ok || cost > 50000 {
			t.Fatalf("%s: complexity %d (limit 50,000), or the name is not the operation's", op.Name, cost)
		}
		t.Logf("%-22s %-12s complexity %d", op.Name, op.Type, costs[op.Name])
	}
	files, _ := filepath.Glob("web/src/operations/*.graphql")
	var inSources []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := parser.ParseQuery(&ast.Source{Name: f, Input: string(b)})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, op := range doc.Operations {
			inSources = append(inSources, op.Name)
		}
	}
	slices.Sort(inManifest)
	slices.Sort(inSources)
	if len(inSources) == 0 || !slices.Equal(inManifest, inSources) {
		t.Fatalf("manifest operations %v, sources define %v: run npm run build in graph/portal/web", inManifest, inSources)
	}
}

// The build loads nothing from another host, runs no inline script, ships
// no document text, and keeps within the JavaScript budget (80 KB gzipped).
func TestBuildIsSelfContained(t *testing.T) {
	index, err := os.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Match(index) || regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(index) {
		t.Fatalf("index.html loads from another host or runs inline script:\n%s", index)
	}
	m, err := resolvers.ParseManifest(portal.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	err = filepath.WalkDir("dist/assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Documents go by hash: no operation's or fragment's text ships.
		for _, op := range m.Operations {
			if bytes.Contains(b, []byte(op.Type+" "+op.Name)) {
				t.Errorf("%s holds the text of %s", path, op.Name)
			}
		}
		if f := regexp.MustCompile(`fragment \w+ on \w+`).Find(b); f != nil {
			t.Errorf("%s holds a fragment's text: %s", path, f)
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(b)
		_ = w.Close()
		total += gz.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || total > 80<<10 {
		t.Fatalf("JavaScript: %d bytes gzipped (budget 81,920)", total)
	}
	t.Logf("JavaScript: %d bytes gzipped", total)
}

func TestHandler(t *testing.T) {
	h := portal.Handler("/portal/")
	get := func(method, target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		return w
	}
	w := get("GET", "/portal/?propertyId=p&auth=secret")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<div id="app">`) || w.Header().Get("Cache-Control") != "no-store" ||
		w.Header().Get("Content-Security-Policy") != portal.ContentSecurityPolicy || w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("page: %d %v", w.Code, w.Header())
	}
	asset := regexp.MustCompile(`\./assets/[^"]+\.js`).FindString(w.Body.String())
	if a := get("GET", "/portal/"+strings.TrimPrefix(asset, "./")); asset == "" || a.Code != 200 || !strings.Contains(a.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("asset %q: %d", asset, a.Code)
	}
	if r := get("GET", "/portal?propertyId=p&auth=s"); r.Code != http.StatusMovedPermanently || r.Header().Get("Location") != "/portal/?propertyId=p&auth=s" {
		t.Fatalf("no slash: %d %v", r.Code, r.Header())
	}
	for target, code := range map[string]int{"/portal/assets/": 404, "/portal/nope": 404, "/portal/manifest.json": 404} {
		if r := get("GET", target); r.Code != code {
			t.Fatalf("%s: %d", target, r.Code)
		}
	}
	if r := get("POST", "/portal/"); r.Code != 405 || r.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d", r.Code)
	}
}
