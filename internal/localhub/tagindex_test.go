package localhub

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/hub/query"
)

func queryIDs(t *testing.T, h *Hub, q string) []string {
	t.Helper()
	var ids []string
	opts := hub.QueryOptions{PageSize: 2}
	for {
		page, err := h.QueryTwins(context.Background(), q, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, tw := range page.Twins {
			ids = append(ids, tw.DeviceID)
		}
		if page.Continuation == "" {
			return ids
		}
		opts.Continuation = page.Continuation
	}
}

// candidates returns what the tag index offers for a query.
func candidates(t *testing.T, h *Hub, q string) ([]string, bool) {
	t.Helper()
	pq, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var ok bool
	if err := h.db.View(func(tx *bolt.Tx) error { ids, ok = tagCandidates(tx, pq); return nil }); err != nil {
		t.Fatal(err)
	}
	return ids, ok
}

func TestTagIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	h, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 6 {
		id := fmt.Sprintf("d%d", i)
		mustCreateDevice(t, h, &hub.Device{DeviceID: id})
		tags := map[string]any{"Site": []string{"berlin", "paris"}[i%2], "loc": map[string]any{"floor": float64(i % 3)}}
		if _, err := h.PatchTwin(ctx, id, hub.TwinPatch{Tags: tags}, ""); err != nil {
			t.Fatal(err)
		}
	}
	q := "SELECT * FROM devices WHERE tags.site = 'berlin' AND tags.loc.floor = 0"
	if ids, ok := candidates(t, h, q); !ok || !cmp.Equal(ids, []string{"d0", "d3"}) {
		t.Errorf("candidates = %v, %v; want the berlin or floor 0 devices, the fewer", ids, ok)
	}
	if d := cmp.Diff([]string{"d0"}, queryIDs(t, h, q)); d != "" {
		t.Errorf("query (-want +got):\n%s", d)
	}
	// The index follows tag changes and deletions.
	if _, err := h.PatchTwin(ctx, "d2", hub.TwinPatch{Tags: map[string]any{"Site": "berlin", "loc": map[string]any{"floor": 0.0}}}, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.DeleteDevice(ctx, "d0", "*"); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"d2"}, queryIDs(t, h, q)); d != "" {
		t.Errorf("query after changes (-want +got):\n%s", d)
	}
	// A database made before the index gets it on open.
	if err := h.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketTagIndex); err != nil {
			return err
		}
		return tx.DeleteBucket(bucketTagKeys)
	}); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if ids, ok := candidates(t, h, q); !ok || !cmp.Equal(ids, []string{"d2", "d3"}) {
		t.Errorf("candidates after rebuild = %v, %v", ids, ok)
	}
	if d := cmp.Diff([]string{"d2"}, queryIDs(t, h, q)); d != "" {
		t.Errorf("query after rebuild (-want +got):\n%s", d)
	}
}

// BenchmarkSelectiveTagQuery runs a query that matches 100 of 100,000
// twins: with the tag index it reads those 100, not the whole registry.
func BenchmarkSelectiveTagQuery(b *testing.B) {
	const devices = 100_000
	h, err := Open(filepath.Join(b.TempDir(), "hub.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	now := h.clock()
	err = h.db.Update(func(tx *bolt.Tx) error {
		for i := range devices {
			r := &deviceRecord{DeviceID: fmt.Sprintf("dev-%06d", i), Status: string(hub.StatusEnabled),
				Identity: identity{GenerationID: fmt.Sprint(i), Auth: auth{Type: string(hub.AuthSAS)}}, Twin: newTwin(now, uint64(i+1))}
			r.Twin.Tags = map[string]any{"site": fmt.Sprintf("site-%d", i%1000), "floor": float64(i % 10)}
			if err := putDevice(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// The same 100 twins, asked for as tags.site IN [...], which the index
	// does not serve: the ratio of the two is what the index saves.
	for name, q := range map[string]string{
		"index": "SELECT * FROM devices WHERE tags.site = 'site-42'",
		"scan":  "SELECT * FROM devices WHERE tags.site IN ['site-42']",
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				page, err := h.QueryTwins(b.Context(), q, hub.QueryOptions{PageSize: 1000})
				if err != nil || len(page.Twins) != 100 {
					b.Fatalf("%d twins, %v", len(page.Twins), err)
				}
			}
		})
	}
}
