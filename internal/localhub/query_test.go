package localhub

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

func TestQueryRejects(t *testing.T) {
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	for name, q := range map[string]string{
		"syntax":       "SELECT * FROM devices WHERE",
		"no source":    "SELECT * FROMdevices",
		"empty":        "",
		"order by":     "SELECT * FROM devices ORDER BY deviceId",
		"unknown func": "SELECT * FROM devices WHERE CONTAINS(deviceId, 'a')",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.Query(t.Context(), q, hub.QueryOptions{})
			wantCode(t, "Query", err, hub.CodeArgumentInvalid)
			_, err = h.QueryTwins(t.Context(), q, hub.QueryOptions{})
			wantCode(t, "QueryTwins", err, hub.CodeArgumentInvalid)
		})
	}
	_, err := h.QueryTwins(t.Context(), "SELECT deviceId FROM devices", hub.QueryOptions{})
	wantCode(t, "QueryTwins with a projection", err, hub.CodeArgumentInvalid)
}

// TestQueryLanguage runs the language over a small fleet through the store:
// WHERE, device ID hints, projections, aggregates, GROUP BY, TOP and paging.
func TestQueryLanguage(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	for i := range 30 {
		id := fmt.Sprintf("dev-%02d", i)
		mustCreateDevice(t, h, &hub.Device{DeviceID: id})
		site := []string{"berlin", "paris", "oslo"}[i%3]
		if _, err := h.PatchTwin(ctx, id, hub.TwinPatch{Tags: map[string]any{"site": site, "floor": float64(i % 5)}}, ""); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := h.UpdateReported(ctx, id, "", map[string]any{"fw": "2.0"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustCreateModule(t, h, &hub.Module{DeviceID: "dev-03", ModuleID: "agent"})
	mustCreateModule(t, h, &hub.Module{DeviceID: "dev-04", ModuleID: "agent"})

	all := func(q string, size int) (items []string, itemType string) {
		t.Helper()
		opts := hub.QueryOptions{PageSize: size}
		for range 100 {
			page, err := h.Query(ctx, q, opts)
			if err != nil {
				t.Fatalf("Query(%q): %v", q, err)
			}
			itemType = page.ItemType
			for _, it := range page.Items {
				var m map[string]any
				if err := json.Unmarshal(it, &m); err != nil {
					t.Fatal(err)
				}
				if id, ok := m["deviceId"].(string); ok && itemType == "twin" {
					if mid, ok := m["moduleId"].(string); ok {
						id += "/" + mid
					}
					items = append(items, id)
				} else {
					b, _ := json.Marshal(m)
					items = append(items, string(b))
				}
			}
			if page.Continuation == "" {
				return items, itemType
			}
			opts.Continuation = page.Continuation
		}
		t.Fatal("no last page")
		return nil, ""
	}
	tests := map[string]struct {
		query    string
		size     int
		want     []string
		itemType string
	}{
		"where on tags": {
			query: "SELECT * FROM devices WHERE tags.site = 'oslo' AND tags.floor < 2", size: 2,
			want: []string{"dev-05", "dev-11", "dev-20", "dev-26"}, itemType: "twin"},
		"where on reported, paged by one": {
			query: "SELECT * FROM devices WHERE properties.reported.fw = '2.0' AND tags.floor = 0", size: 1,
			want: []string{"dev-00", "dev-10", "dev-20"}, itemType: "twin"},
		"device IDs": {
			query: "SELECT * FROM devices WHERE deviceId IN ['dev-07', 'dev-01', 'nobody']", size: 1,
			want: []string{"dev-01", "dev-07"}, itemType: "twin"},
		"top across pages": {
			query: "SELECT TOP 5 * FROM devices WHERE tags.site = 'berlin'", size: 2,
			want: []string{"dev-00", "dev-03", "dev-06", "dev-09", "dev-12"}, itemType: "twin"},
		"modules": {
			query: "SELECT * FROM devices.modules WHERE deviceId = 'dev-04'",
			want:  []string{"dev-04/agent"}, itemType: "twin"},
		"projection": {
			query: "SELECT deviceId, tags.floor AS f FROM devices WHERE deviceId IN ['dev-08', 'dev-09']",
			want:  []string{`{"deviceId":"dev-08","f":3}`, `{"deviceId":"dev-09","f":4}`}, itemType: "raw"},
		"count": {
			query: "SELECT COUNT() AS n FROM devices WHERE tags.site = 'paris'",
			want:  []string{`{"n":10}`}, itemType: "raw"},
		"group by, paged": {
			query: "SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site", size: 2,
			want: []string{`{"n":10,"site":"berlin"}`, `{"n":10,"site":"paris"}`, `{"n":10,"site":"oslo"}`}, itemType: "raw"},
		"nothing matches": {
			query: "SELECT * FROM devices WHERE tags.site = 'rome'", itemType: "twin"},
		"jobs": {query: "SELECT * FROM devices.jobs", itemType: "deviceJob"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, itemType := all(tt.query, tt.size)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("items mismatch (-want +got):\n%s", d)
			}
			if itemType != tt.itemType {
				t.Errorf("item type %q, want %q", itemType, tt.itemType)
			}
		})
	}
	// QueryTwins pages the same way as Query.
	page, err := h.QueryTwins(ctx, "SELECT * FROM devices WHERE tags.site = 'oslo' AND tags.floor < 2", hub.QueryOptions{PageSize: 2})
	if err != nil || len(page.Twins) != 2 || page.Continuation == "" {
		t.Fatalf("QueryTwins first page: %d twins, token %q, %v", len(page.Twins), page.Continuation, err)
	}
}

func TestPageSize(t *testing.T) {
	tests := map[int]int{-5: hub.DefaultQueryPageSize, 0: hub.DefaultQueryPageSize, 1: 1, 100: 100, 1000: 1000, 1001: 1000, 50000: 1000}
	for in, want := range tests {
		if got := pageSize(in); got != want {
			t.Errorf("pageSize(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestQueryPages checks what the contract leaves open and the local hub
// decides: order, exact page sizes, an empty continuation on a full last
// page, and the token's checks.
func TestQueryPages(t *testing.T) {
	ctx := t.Context()
	h := openTestHub(t, filepath.Join(t.TempDir(), "hub.db"), Options{})
	var all []string
	create := func(from, to int) {
		for i := from; i < to; i++ {
			// Unpadded numbers, so that byte order differs from creation order.
			id := fmt.Sprintf("dev-%d", i)
			mustCreateDevice(t, h, &hub.Device{DeviceID: id})
			all = append(all, id)
		}
		slices.Sort(all)
	}
	readAll := func(query string, size int) (ids []string, sizes []int) {
		t.Helper()
		opts := hub.QueryOptions{PageSize: size}
		for range 100 {
			page, err := h.QueryTwins(ctx, query, opts)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(page.Twins))
			for _, tw := range page.Twins {
				id := tw.DeviceID
				if tw.ModuleID != "" {
					id += "/" + tw.ModuleID
				}
				ids = append(ids, id)
			}
			if page.Continuation == "" {
				return ids, sizes
			}
			opts.Continuation = page.Continuation
		}
		t.Fatal("no last page")
		return nil, nil
	}

	create(0, 200)
	ids, sizes := readAll("SELECT * FROM devices", 100)
	if d := cmp.Diff([]int{100, 100}, sizes); d != "" {
		t.Errorf("page sizes for 200 devices mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(all, ids); d != "" {
		t.Errorf("device order mismatch (-want +got):\n%s", d)
	}

	create(200, 250)
	ids, sizes = readAll("select * from devices", 0)
	if d := cmp.Diff([]int{100, 100, 50}, sizes); d != "" {
		t.Errorf("page sizes for 250 devices with the default size mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(all, ids); d != "" {
		t.Errorf("device order mismatch (-want +got):\n%s", d)
	}

	for _, dev := range []string{"dev-1", "dev-10", "dev-2"} {
		for _, mid := range []string{"z", "a"} {
			mustCreateModule(t, h, &hub.Module{DeviceID: dev, ModuleID: mid})
		}
	}
	ids, _ = readAll("SELECT * FROM devices.modules", 4)
	want := []string{"dev-1/a", "dev-1/z", "dev-10/a", "dev-10/z", "dev-2/a", "dev-2/z"}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("module order mismatch (-want +got):\n%s", d)
	}

	devPage, err := h.QueryTwins(ctx, "SELECT * FROM devices", hub.QueryOptions{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	modPage, err := h.QueryTwins(ctx, "SELECT * FROM devices.modules", hub.QueryOptions{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ query, token string }{
		"garbage":                  {"SELECT * FROM devices", "not a token!"},
		"valid base64, not a key":  {"SELECT * FROM devices", encodeContinuation(sourceDevices, continuation{after: []byte("a b")})},
		"devices token on modules": {"SELECT * FROM devices.modules", devPage.Continuation},
		"modules token on devices": {"SELECT * FROM devices", modPage.Continuation},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.QueryTwins(ctx, tc.query, hub.QueryOptions{Continuation: tc.token})
			wantCode(t, "QueryTwins", err, hub.CodeArgumentInvalid)
		})
	}

	// A token names a position, not a twin: it stays usable when the twin
	// it names is deleted.
	if err := h.DeleteDevice(ctx, devPage.Twins[0].DeviceID, "*"); err != nil {
		t.Fatal(err)
	}
	next, err := h.QueryTwins(ctx, "SELECT * FROM devices", hub.QueryOptions{PageSize: 1, Continuation: devPage.Continuation})
	if err != nil {
		t.Fatal(err)
	}
	if got := next.Twins[0].DeviceID; got != all[1] {
		t.Errorf("page after a deleted device starts at %q, want %q", got, all[1])
	}
}

func TestContinuationRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		src source
		key string
	}{
		{sourceDevices, "d"},
		{sourceDevices, "thermo-1:$'()"},
		{sourceModules, "dev\x00$edgeAgent"},
	} {
		token := encodeContinuation(tc.src, continuation{after: []byte(tc.key), returned: 7})
		got, err := decodeContinuation(tc.src, token)
		if err != nil || string(got.after) != tc.key || got.returned != 7 {
			t.Errorf("decodeContinuation(encodeContinuation(%q)) = %q, %v", tc.key, got.after, err)
		}
	}
}

func FuzzContinuation(f *testing.F) {
	f.Add(byte('d'), "")
	f.Add(byte('d'), encodeContinuation(sourceDevices, continuation{after: []byte("thermo-1")}))
	f.Add(byte('m'), encodeContinuation(sourceModules, continuation{after: []byte("dev\x00mod"), returned: 3}))
	f.Add(byte('m'), encodeContinuation(sourceModules, continuation{after: []byte("dev\x00mod\x00x")}))
	f.Add(byte('r'), encodeContinuation(sourceResult, continuation{returned: 200}))
	f.Add(byte('d'), "ZA")
	f.Add(byte('d'), "ZA==")
	f.Add(byte('m'), "!!!")
	f.Fuzz(func(t *testing.T, s byte, token string) {
		src := []source{sourceDevices, sourceModules, sourceResult}[int(s)%3]
		c, err := decodeContinuation(src, token)
		if err != nil || token == "" {
			return
		}
		// What decodes is a position this hub could have issued, and it
		// encodes back to the same token.
		if again := encodeContinuation(src, c); again != token {
			t.Errorf("token %q decodes to %q, which encodes to %q", token, c.after, again)
		}
		if src == sourceResult {
			return
		}
		key := c.after
		ids := strings.Split(string(key), "\x00")
		if want := map[source]int{sourceDevices: 1, sourceModules: 2}[src]; len(ids) != want {
			t.Errorf("token %q decodes to %q with %d IDs, want %d", token, key, len(ids), want)
		}
		for _, id := range ids {
			if err := hub.ValidateID(id); err != nil {
				t.Errorf("token %q decodes to an invalid ID: %v", token, err)
			}
		}
	})
}

// BenchmarkQueryPage reads one page from the middle of a registry of
// 100,000 devices: the cost is that of the page, not of the registry.
func BenchmarkQueryPage(b *testing.B) {
	const devices = 100_000
	h, err := Open(filepath.Join(b.TempDir(), "hub.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	now := h.clock()
	err = h.db.Update(func(tx *bolt.Tx) error {
		for i := range devices {
			r := &deviceRecord{
				DeviceID: fmt.Sprintf("dev-%06d", i),
				Status:   string(hub.StatusEnabled),
				Identity: identity{GenerationID: fmt.Sprint(i), Auth: auth{Type: string(hub.AuthSAS)}},
				Twin:     newTwin(now, uint64(i+1)),
			}
			r.Twin.Tags = map[string]any{"site": "berlin", "floor": float64(i % 10)}
			if err := putDevice(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	opts := hub.QueryOptions{PageSize: 100, Continuation: encodeContinuation(sourceDevices, continuation{after: []byte("dev-050000")})}
	for b.Loop() {
		page, err := h.QueryTwins(b.Context(), "SELECT * FROM devices", opts)
		if err != nil || len(page.Twins) != 100 {
			b.Fatalf("page of %d twins, %v", len(page.Twins), err)
		}
	}
}
