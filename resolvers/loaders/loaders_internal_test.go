package loaders

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/residentportal/bff/graph/model"
)

// Devices come ordered by owner; each owner gets its own, in order, even
// one met in two runs, and appending to one owner's never touches
// another's.
func TestGrouped(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	devices := []model.Device{{UserID: a, MACAddress: "1"}, {UserID: a, MACAddress: "2"}, {UserID: b, MACAddress: "3"}, {UserID: a, MACAddress: "4"}}
	into := map[uuid.UUID][]*model.Device{}
	Grouped(into, devices, func(d *model.Device) uuid.UUID { return d.UserID })
	macs := func(ds []*model.Device) (out []string) {
		for _, d := range ds {
			out = append(out, d.MACAddress)
		}
		return out
	}
	if got := macs(into[a]); !slices.Equal(got, []string{"1", "2", "4"}) {
		t.Fatalf("a: %v", got)
	}
	if got := macs(into[b]); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("b: %v", got)
	}
	next := map[uuid.UUID][]*model.Device{}
	Grouped(next, devices[:3], func(d *model.Device) uuid.UUID { return d.UserID })
	_ = append(next[a], &model.Device{MACAddress: "x"}) // a's run is followed by b's
	if got := macs(next[b]); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("b after an append to a: %v", got)
	}
}

// prefetch fetches each missing key once and returns each distinct key's
// value once, in order, leaving failed keys out, with few keys and many.
func TestPrefetchDistinct(t *testing.T) {
	for _, n := range []int{3, 40} {
		var batches [][]int
		l := &Loader[int, string]{batch: func(_ context.Context, keys []int) []*dataloader.Result[string] {
			batches = append(batches, slices.Clone(keys))
			out := results[string](len(keys))
			for i, k := range keys {
				if k%5 == 4 {
					out[i].Error = errors.New("no such key")
				} else {
					out[i].Data = fmt.Sprint("v", k)
				}
			}
			return out
		}}
		var want []string
		var ks []int
		for i := range n {
			ks = append(ks, i, i) // each key twice
			if i%5 != 4 {
				want = append(want, fmt.Sprint("v", i))
			}
		}
		if got := l.Prefetch(context.Background(), ks); !slices.Equal(got, want) {
			t.Fatalf("n=%d: %v, want %v", n, got, want)
		}
		if len(batches) != 1 || len(batches[0]) != n {
			t.Fatalf("n=%d: batches %v", n, batches)
		}
		if got := l.Prefetch(context.Background(), ks[:4]); !slices.Equal(got, want[:2]) || len(batches) != 1 {
			t.Fatalf("n=%d: again: %v, %d batches", n, got, len(batches))
		}
		if v, err := l.Get(context.Background(), 1); err != nil || v != "v1" {
			t.Fatalf("get: %q %v", v, err)
		}
	}
}
