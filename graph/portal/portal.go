// Package portal serves the residents' page — the page behind the portal
// links portalctl prints — from its build embedded in the binary, and holds
// the page's trusted documents (manifest.json), which the GraphQL server
// runs by id.
//
// The page's sources are in web/ (Preact and TypeScript, typed operations
// in web/src/operations/*.graphql); `npm run build` there writes dist/ and
// manifest.json, both committed. CI builds them again and fails on any
// difference.
package portal

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed dist
var dist embed.FS

//go:embed manifest.json
var manifest []byte

// Manifest returns the page's trusted documents in Apollo's
// persisted-query-manifest format.
func Manifest() []byte { return manifest }

// ContentSecurityPolicy allows the page's own script and styles, images from
// this origin and data: URLs (the Wi-Fi QR codes), and requests to this
// origin only (GraphQL over HTTP and WebSocket); nothing inline, nothing
// from another host, no framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Handler serves the page at base (a path ending in "/", PORTAL_BASE_URL's)
// and its assets below base+"assets/"; base without its slash redirects
// there, keeping the query (the link's propertyId and auth).
func Handler(base string) http.Handler {
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	assets := http.StripPrefix(base, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		switch p := r.URL.Path; {
		case p == strings.TrimSuffix(base, "/"):
			target := base
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
		case p == base:
			h.Set("Content-Type", "text/html; charset=utf-8")
			// The page's address carries the portal secret until the page
			// removes it: no cache keeps it.
			h.Set("Cache-Control", "no-store")
			_, _ = w.Write(index)
		case strings.HasPrefix(p, base+"assets/") && !strings.HasSuffix(p, "/"):
			// Asset names carry a hash of their content.
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			assets.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
