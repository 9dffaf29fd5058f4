package consumer_test

import (
	"testing"

	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
)

func TestManifest(t *testing.T) {
	m, err := resolvers.ParseManifest(consumer.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Operations) != 4 {
		t.Fatalf("%d operations", len(m.Operations))
	}
	for _, op := range m.Operations {
		costs, err := resolvers.CheckDocument(op.Body)
		if err != nil {
			t.Fatalf("%s: %v", op.Name, err)
		}
		if _, ok := costs[op.Name]; !ok || len(costs) != 1 {
			t.Fatalf("%s: %v", op.Name, costs)
		}
	}
}
