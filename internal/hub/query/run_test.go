package query

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRunItemTypes(t *testing.T) {
	f := loadFleet(t)
	tests := map[string]struct {
		query    string
		itemType string
		n        int
	}{
		"device twins":  {"SELECT * FROM devices WHERE tags.location.region = 'EU'", ItemTwin, 2},
		"module twins":  {"SELECT * FROM devices.modules", ItemTwin, len(f.Modules)},
		"job records":   {"SELECT * FROM devices.jobs", ItemDeviceJob, len(f.Jobs)},
		"projection":    {"SELECT deviceId FROM devices", ItemRaw, len(f.Devices)},
		"aggregate":     {"SELECT COUNT() FROM devices.modules", ItemRaw, 1},
		"group by":      {"SELECT COUNT() FROM devices GROUP BY status", ItemRaw, 2},
		"no match":      {"SELECT * FROM devices WHERE false", ItemTwin, 0},
		"TOP on jobs":   {"SELECT TOP 2 * FROM devices.jobs", ItemDeviceJob, 2},
		"TOP past end":  {"SELECT TOP 1000 * FROM devices.jobs", ItemDeviceJob, len(f.Jobs)},
		"TOP 0 project": {"SELECT TOP 0 deviceId FROM devices", ItemRaw, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, res := f.run(t, tt.query)
			if res.ItemType != tt.itemType {
				t.Errorf("ItemType = %q, want %q", res.ItemType, tt.itemType)
			}
			if len(res.Items) != tt.n {
				t.Errorf("got %d items, want %d", len(res.Items), tt.n)
			}
			if res.Items == nil {
				t.Error("Items is nil, want an empty slice")
			}
		})
	}
}

func TestRunSelectStarReturnsDocuments(t *testing.T) {
	f := loadFleet(t)
	_, res := f.run(t, "SELECT * FROM devices WHERE deviceId = 'device2'")
	if len(res.Items) != 1 {
		t.Fatalf("got %d items, want 1", len(res.Items))
	}
	if d := cmp.Diff(f.Devices[2], res.Items[0]); d != "" {
		t.Errorf("item is not the document (-want +got):\n%s", d)
	}
}

func TestRunCountWithoutRows(t *testing.T) {
	q, err := Parse("SELECT COUNT() AS n FROM devices")
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Run(slices.Values([]map[string]any(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]any{map[string]any{"n": 0.0}}, res.Items); d != "" {
		t.Errorf("COUNT() over nothing mismatch (-want +got):\n%s", d)
	}
}

// TestRunStopsAtTop checks that Run reads no more documents than TOP needs.
func TestRunStopsAtTop(t *testing.T) {
	q, err := Parse("SELECT TOP 2 deviceId FROM devices WHERE tags.on = true")
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	docs := func(yield func(map[string]any) bool) {
		for i := range 100 {
			read++
			if !yield(dev(string(rune('a'+i%26)), map[string]any{"on": i%3 == 0})) {
				return
			}
		}
	}
	res, err := q.Run(docs)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]any{map[string]any{"deviceId": "a"}, map[string]any{"deviceId": "d"}}, res.Items); d != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", d)
	}
	if read != 4 {
		t.Errorf("Run read %d documents, want 4", read)
	}
}

func TestFromAndIsSelectStar(t *testing.T) {
	tests := map[string]struct {
		from Source
		star bool
	}{
		"SELECT * FROM devices":                  {Devices, true},
		"SELECT deviceId FROM devices.modules":   {Modules, false},
		"SELECT * FROM devices.jobs":             {Jobs, true},
		"SELECT COUNT() FROM devices":            {Devices, false},
		"SELECT TOP 3 * FROM devices WHERE true": {Devices, true},
	}
	for query, tt := range tests {
		q, err := Parse(query)
		if err != nil {
			t.Fatal(err)
		}
		if q.From() != tt.from || q.IsSelectStar() != tt.star {
			t.Errorf("%s: From() = %v, IsSelectStar() = %v, want %v, %v", query, q.From(), q.IsSelectStar(), tt.from, tt.star)
		}
	}
}

func TestMatchWithoutWhere(t *testing.T) {
	q, err := Parse("SELECT * FROM devices")
	if err != nil {
		t.Fatal(err)
	}
	if !q.Match(nil) || !q.Match(map[string]any{}) {
		t.Error("a query without WHERE does not match every document")
	}
}
