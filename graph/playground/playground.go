// Package playground serves GraphiQL at /graphiql, pointed at /graphql, from
// assets embedded in the binary (GraphiQL 3 and React 18 UMD builds vendored
// from the npm registry by vendor.sh): nothing is loaded from another host.
package playground

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy allows exactly what the page needs: its own scripts
// and styles (GraphiQL sets inline style attributes), data: fonts and images
// embedded in its CSS, and requests to this origin only.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"font-src 'self' data:; img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// unavailable is the page at /graphiql when the server runs trusted
// documents only: a playground could run nothing.
const unavailable = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Playground unavailable</title></head>
<body><h1>The GraphQL playground is unavailable</h1>
<p>This server runs trusted documents only (GRAPHQL_TRUSTED_DOCUMENTS=enforce): operations typed here would be refused.</p></body></html>
`

// Handler serves the page at /graphiql and its assets under /graphiql/assets/;
// with available false (trusted documents enforced), a page that says the
// playground is unavailable, and no assets.
func Handler(available bool) http.Handler {
	if !available {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			if r.Method != http.MethodHead {
				_, _ = w.Write([]byte(unavailable))
			}
		})
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/graphiql/assets/", http.FileServer(http.FS(sub)))
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		switch {
		case r.URL.Path == "/graphiql" || r.URL.Path == "/graphiql/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(index)
		case strings.HasPrefix(r.URL.Path, "/graphiql/assets/") && !strings.HasSuffix(r.URL.Path, "/"):
			w.Header().Set("Cache-Control", "public, max-age=3600")
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
