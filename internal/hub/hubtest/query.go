package hubtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

var queryTests = []test{
	{"DevicesPaging", testQueryDevicesPaging},
	{"Modules", testQueryModules},
	{"DefaultPageSize", testQueryDefaultPageSize},
}

// queryAll reads every page of a query and returns the twins, failing the
// test when a page is larger than asked for or the pages never end.
func queryAll(t *testing.T, h hub.Hub, query string, pageSize, maxPages int) (twins []hub.Twin, pages int) {
	t.Helper()
	opts := hub.QueryOptions{PageSize: pageSize}
	for {
		page, err := h.QueryTwins(t.Context(), query, opts)
		if err != nil {
			t.Fatalf("QueryTwins(%q) page %d: %v", query, pages+1, err)
		}
		pages++
		if pageSize > 0 && len(page.Twins) > pageSize {
			t.Errorf("page %d holds %d twins, more than the %d asked for", pages, len(page.Twins), pageSize)
		}
		twins = append(twins, page.Twins...)
		if page.Continuation == "" {
			return twins, pages
		}
		if pages >= maxPages {
			t.Fatalf("QueryTwins(%q) still has a continuation after %d pages", query, pages)
		}
		opts.Continuation = page.Continuation
	}
}

func testQueryDevicesPaging(t *testing.T, h hub.Hub) {
	const n, pageSize = 250, 100
	prefix := testID(t, "")
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("%s%03d", prefix, i)
		createDevice(t, h, &hub.Device{DeviceID: want[i]})
	}
	tagged := want[42]
	patchTwin(t, h, tagged, hub.TwinPatch{Tags: map[string]any{"site": "berlin"}, Desired: map[string]any{"interval": 5.0}}, "")

	twins, _ := queryAll(t, h, "SELECT * FROM devices", pageSize, 10_000)
	seen := map[string]int{}
	var got []string
	for _, tw := range twins {
		key := tw.DeviceID + "/" + tw.ModuleID
		seen[key]++
		if seen[key] == 2 {
			t.Errorf("twin %s returned more than once", key)
		}
		if tw.ModuleID != "" {
			t.Errorf("SELECT * FROM devices returned module twin %s", key)
		}
		if !strings.HasPrefix(tw.DeviceID, prefix) {
			continue
		}
		got = append(got, tw.DeviceID)
		if tw.DeviceID == tagged {
			if d := cmp.Diff(map[string]any{"site": "berlin"}, tw.Tags); d != "" {
				t.Errorf("queried twin %s tags mismatch (-want +got):\n%s", tagged, d)
			}
			if d := cmp.Diff(map[string]any{"interval": 5.0}, tw.Properties.Desired.Properties()); d != "" {
				t.Errorf("queried twin %s desired mismatch (-want +got):\n%s", tagged, d)
			}
			if _, ok := tw.Properties.Desired["$metadata"]; !ok {
				t.Errorf("queried twin %s has no desired $metadata", tagged)
			}
		}
	}
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("devices returned by paging mismatch (-want +got):\n%s", d)
	}
}

func testQueryModules(t *testing.T, h hub.Hub) {
	prefix := testID(t, "")
	var want []string
	for i := range 3 {
		id := fmt.Sprintf("%s%d", prefix, i)
		createDevice(t, h, &hub.Device{DeviceID: id})
		for _, mid := range []string{"a", "b"} {
			createModule(t, h, &hub.Module{DeviceID: id, ModuleID: mid})
			want = append(want, id+"/"+mid)
		}
	}
	twins, _ := queryAll(t, h, "SELECT * FROM devices.modules", 4, 10_000)
	seen := map[string]bool{}
	var got []string
	for _, tw := range twins {
		key := tw.DeviceID + "/" + tw.ModuleID
		if seen[key] {
			t.Errorf("module twin %s returned more than once", key)
		}
		seen[key] = true
		if tw.ModuleID == "" {
			t.Errorf("SELECT * FROM devices.modules returned device twin %s", tw.DeviceID)
		}
		if strings.HasPrefix(tw.DeviceID, prefix) {
			got = append(got, key)
		}
	}
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("module twins returned by paging mismatch (-want +got):\n%s", d)
	}
}

func testQueryDefaultPageSize(t *testing.T, h hub.Hub) {
	prefix := testID(t, "")
	want := []string{prefix + "0", prefix + "1", prefix + "2"}
	for _, id := range want {
		createDevice(t, h, &hub.Device{DeviceID: id})
	}
	twins, _ := queryAll(t, h, "SELECT * FROM devices", 0, 10_000)
	var got []string
	for _, tw := range twins {
		if strings.HasPrefix(tw.DeviceID, prefix) {
			got = append(got, tw.DeviceID)
		}
	}
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("devices returned with the default page size mismatch (-want +got):\n%s", d)
	}
}
