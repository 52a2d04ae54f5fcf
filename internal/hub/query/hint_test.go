package query

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDeviceIDs(t *testing.T) {
	tests := map[string]struct {
		cond string
		want []string
		ok   bool
	}{
		"equality":             {"deviceId = 'a'", []string{"a"}, true},
		"reversed":             {"'a' = DeviceId", []string{"a"}, true},
		"qualified":            {"devices.deviceId = 'a'", []string{"a"}, true},
		"IN":                   {"deviceId IN ['b', 'a', 'b']", []string{"a", "b"}, true},
		"IN non-strings":       {"deviceId IN ['a', 1, null]", []string{"a"}, true},
		"conjunct":             {"tags.x = 1 AND deviceId IN ['a', 'b']", []string{"a", "b"}, true},
		"intersection":         {"deviceId IN ['a', 'b'] AND deviceId = 'b'", []string{"b"}, true},
		"contradiction":        {"deviceId = 'a' AND deviceId = 'b'", []string{}, true},
		"union":                {"deviceId = 'a' OR deviceId IN ['c']", []string{"a", "c"}, true},
		"nested":               {"tags.x = 1 AND (deviceId = 'a' OR deviceId = 'b') AND NOT tags.y = 2", []string{"a", "b"}, true},
		"number":               {"deviceId = 1", []string{}, true},
		"no WHERE":             {"", nil, false},
		"other path":           {"tags.deviceId = 'a'", nil, false},
		"not equal":            {"deviceId != 'a'", nil, false},
		"NIN":                  {"deviceId NIN ['a']", nil, false},
		"NOT":                  {"NOT deviceId = 'a'", nil, false},
		"OR with other":        {"deviceId = 'a' OR tags.x = 1", nil, false},
		"path to path":         {"deviceId = moduleId", nil, false},
		"function":             {"STARTSWITH(deviceId, 'a')", nil, false},
		"comparison of result": {"(deviceId = 'a') = false", nil, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			query := "SELECT * FROM devices"
			if tt.cond != "" {
				query += " WHERE " + tt.cond
			}
			q, err := Parse(query)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := q.DeviceIDs()
			if ok != tt.ok {
				t.Fatalf("DeviceIDs() ok = %v, want %v", ok, tt.ok)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DeviceIDs() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestDeviceIDsNarrowOnly checks the hint against Match over the fleet: no
// matching document has a device ID outside the hint.
func TestDeviceIDsNarrowOnly(t *testing.T) {
	f := loadFleet(t)
	for _, query := range []string{
		"SELECT * FROM devices WHERE deviceId IN ['device1', 'device2'] AND tags.location.region = 'US'",
		"SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' AND deviceId IN ['device1', 'device2']",
		"SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId' OR devices.jobs.deviceId = 'device2'",
	} {
		q, err := Parse(query)
		if err != nil {
			t.Fatal(err)
		}
		ids, ok := q.DeviceIDs()
		if !ok {
			t.Fatalf("%s: DeviceIDs() gave no hint", query)
		}
		allowed := map[string]bool{}
		for _, id := range ids {
			allowed[id] = true
		}
		for _, d := range f.docs(q.From()) {
			if q.Match(d) && !allowed[d["deviceId"].(string)] {
				t.Errorf("%s matches %v outside DeviceIDs() %v", query, d["deviceId"], ids)
			}
		}
	}
}

func TestTagEquals(t *testing.T) {
	tests := map[string]struct {
		query string
		want  map[string]any
	}{
		"one":           {"SELECT * FROM devices WHERE tags.site = 'berlin'", map[string]any{"site": "berlin"}},
		"nested":        {"SELECT * FROM devices WHERE tags.Location.Region = 'US' AND tags.floor = 3", map[string]any{"location.region": "US", "floor": 3.0}},
		"reversed":      {"SELECT * FROM devices WHERE true = tags.on AND null = tags.x", map[string]any{"on": true, "x": nil}},
		"qualified":     {"SELECT * FROM devices WHERE devices.tags.[[group]].name = 'a'", map[string]any{"group.name": "a"}},
		"modules":       {"SELECT * FROM devices.modules WHERE tags.role = 'scan'", map[string]any{"role": "scan"}},
		"first kept":    {"SELECT * FROM devices WHERE tags.a = 1 AND tags.A = 2", map[string]any{"a": 1.0}},
		"beside others": {"SELECT * FROM devices WHERE (tags.a = 1 AND properties.reported.x > 2) AND NOT tags.b = 1", map[string]any{"a": 1.0}},
		"OR":            {"SELECT * FROM devices WHERE tags.a = 1 OR tags.b = 2", nil},
		"not equal":     {"SELECT * FROM devices WHERE tags.a != 1", nil},
		"IN":            {"SELECT * FROM devices WHERE tags.a IN [1]", nil},
		"whole tags":    {"SELECT * FROM devices WHERE tags = 1", nil},
		"undefined":     {"SELECT * FROM devices WHERE tags.a = undefined", nil},
		"path to path":  {"SELECT * FROM devices WHERE tags.a = tags.b", nil},
		"no WHERE":      {"SELECT * FROM devices", nil},
		"jobs":          {"SELECT * FROM devices.jobs WHERE tags.a = 1", nil},
		"properties":    {"SELECT * FROM devices WHERE properties.desired.a = 1", nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			q, err := Parse(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, q.TagEquals()); d != "" {
				t.Errorf("TagEquals() mismatch (-want +got):\n%s", d)
			}
		})
	}
}
