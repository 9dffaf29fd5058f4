package service

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/residentportal/bff/"

// house is what each package of the project may import of the project:
// imports point one way, down this list (README "Architecture"). A
// package not named here (the programs under cmd/ and bench/, test
// helpers) may import any package named here, and cmd/ and bench/ import
// nothing of each other.
var house = map[string][]string{
	"graph/model":        {},
	"graph/scalar":       {"graph/model"},
	"graph":              {"graph/model", "graph/scalar"},
	"graph/portal":       {},
	"graph/playground":   {},
	"resolvers/service":  {"graph/model"}, // the service knows no transport
	"db":                 {"graph/model"},
	"rest/edge":          {"graph/model"},
	"resolvers/loaders":  {"graph/model", "resolvers/service"}, // GraphQL's dataloaders, both executors'
	"resolvers/plan":     {},                                   // what an operation's document decides
	"resolvers/fastpath": {"graph/model", "graph/scalar", "resolvers/loaders", "resolvers/plan", "resolvers/service"},
	"resolvers": {"graph", "graph/model", "graph/scalar", "resolvers/fastpath", "resolvers/loaders", "resolvers/plan",
		"resolvers/service"},
	"resolvers/radius": {"graph/model", "resolvers/service"}, // RADIUS over the service, beside GraphQL
	// Change delivery: the outbox's relay to JetStream, and the Wi-Fi side's
	// consumer, which reads through the GraphQL API as any client does.
	"resolvers/delivery/relay":    {"db", "graph/model"},
	"resolvers/delivery/consumer": {"graph/model", "resolvers/delivery/relay"},
	// …and the Disconnect-Requests of properties whose access points ask
	// portald (SPEC §9.5), sent through the RADIUS package.
	"resolvers/delivery/disconnect": {"db", "graph/model", "resolvers/radius"},
	"rest/ratelimit":                {"graph/model", "resolvers/service", "rest/edge"},
	"rest":                          {"graph/model", "resolvers", "resolvers/service", "rest/edge", "rest/ratelimit"},
}

// The house's imports point down, and the service layer depends on
// neither gqlgen nor net/http, so that a new transport (RADIUS) calls it as
// GraphQL and REST do, without either.
func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		allowed, known := house[pkg]
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, module)
			switch {
			case !ours:
			case known && !slices.Contains(allowed, dep):
				t.Errorf("%s imports %s", pkg, dep)
			case !known && top(pkg) != top(dep) && (top(dep) == "cmd" || top(dep) == "bench"):
				t.Errorf("%s imports %s", pkg, dep)
			}
		}
	}
	deps, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, deps)
	}
	for _, dep := range strings.Fields(string(deps)) {
		if dep == "net/http" || strings.HasPrefix(dep, "github.com/99designs/gqlgen") || strings.HasPrefix(dep, "github.com/vektah/gqlparser") {
			t.Errorf("the service layer depends on %s", dep)
		}
	}
}

func top(pkg string) string {
	first, _, _ := strings.Cut(pkg, "/")
	return first
}
