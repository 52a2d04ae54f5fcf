package localhub

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

func TestParseQuery(t *testing.T) {
	tests := map[string]struct {
		query   string
		want    source
		wantErr bool
	}{
		"devices":                {query: "SELECT * FROM devices", want: sourceDevices},
		"lower case":             {query: "select * from devices", want: sourceDevices},
		"mixed case and spaces":  {query: "  Select\t*\n  From   DEVICES  ", want: sourceDevices},
		"no space around star":   {query: "SELECT*FROM devices", want: sourceDevices},
		"modules":                {query: "SELECT * FROM devices.modules", want: sourceModules},
		"modules in upper case":  {query: "SELECT * FROM DEVICES.MODULES", want: sourceModules},
		"where clause":           {query: "SELECT * FROM devices WHERE tags.site = 'berlin'", wantErr: true},
		"projection":             {query: "SELECT deviceId FROM devices", wantErr: true},
		"jobs":                   {query: "SELECT * FROM devices.jobs", wantErr: true},
		"space inside the name":  {query: "SELECT * FROM devices. modules", wantErr: true},
		"no space before source": {query: "SELECT * FROMdevices", wantErr: true},
		"empty":                  {query: "", wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseQuery(tt.query)
			if tt.wantErr {
				var he *hub.Error
				if !errors.As(err, &he) || he.Code != hub.CodeArgumentInvalid.Number {
					t.Fatalf("parseQuery(%q) = %v, want a 400 ArgumentInvalid", tt.query, err)
				}
				for _, s := range []string{fmt.Sprintf("%q", tt.query), "SELECT * FROM devices", "SELECT * FROM devices.modules"} {
					if !strings.Contains(he.Message, s) {
						t.Errorf("message %q does not contain %s", he.Message, s)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseQuery(%q) = %c, %v, want %c", tt.query, got, err, tt.want)
			}
		})
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
		"valid base64, not a key":  {"SELECT * FROM devices", encodeContinuation(sourceDevices, []byte("a b"))},
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
		token := encodeContinuation(tc.src, []byte(tc.key))
		got, err := decodeContinuation(tc.src, token)
		if err != nil || string(got) != tc.key {
			t.Errorf("decodeContinuation(encodeContinuation(%q)) = %q, %v", tc.key, got, err)
		}
	}
}

func FuzzContinuation(f *testing.F) {
	f.Add(byte('d'), "")
	f.Add(byte('d'), encodeContinuation(sourceDevices, []byte("thermo-1")))
	f.Add(byte('m'), encodeContinuation(sourceModules, []byte("dev\x00mod")))
	f.Add(byte('m'), encodeContinuation(sourceModules, []byte("dev\x00mod\x00x")))
	f.Add(byte('d'), "ZA")
	f.Add(byte('d'), "ZA==")
	f.Add(byte('m'), "!!!")
	f.Fuzz(func(t *testing.T, s byte, token string) {
		src := sourceDevices
		if s%2 == 1 {
			src = sourceModules
		}
		key, err := decodeContinuation(src, token)
		if err != nil || token == "" {
			return
		}
		// What decodes is a key this hub could have issued, and it
		// encodes back to the same token.
		if again := encodeContinuation(src, key); again != token {
			t.Errorf("token %q decodes to %q, which encodes to %q", token, key, again)
		}
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
	opts := hub.QueryOptions{PageSize: 100, Continuation: encodeContinuation(sourceDevices, []byte("dev-050000"))}
	for b.Loop() {
		page, err := h.QueryTwins(b.Context(), "SELECT * FROM devices", opts)
		if err != nil || len(page.Twins) != 100 {
			b.Fatalf("page of %d twins, %v", len(page.Twins), err)
		}
	}
}
