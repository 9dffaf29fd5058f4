package service

import (
	"os/exec"
	"strings"
	"testing"
)

// The service layer knows no transport: neither gqlgen nor net/http is
// among its dependencies, so a new transport (RADIUS) calls it as GraphQL
// and REST do, without either.
func TestServiceKnowsNoTransport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "net/http" || strings.HasPrefix(dep, "github.com/99designs/gqlgen") || strings.HasPrefix(dep, "github.com/vektah/gqlparser") ||
			strings.HasPrefix(dep, "github.com/residentportal/bff/") && dep != "github.com/residentportal/bff/graph/model" && dep != "github.com/residentportal/bff/resolvers/service" {
			t.Errorf("the service layer depends on %s", dep)
		}
	}
}
