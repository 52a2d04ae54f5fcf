package query

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDocumentedExamples runs every example query of the reference's
// section 1.8 over testdata/fleet.json.
func TestDocumentedExamples(t *testing.T) {
	f := loadFleet(t)
	all := func(docs []map[string]any, key ...string) []string {
		ids := []string{}
		for _, d := range docs {
			id := d["deviceId"].(string)
			for _, k := range key {
				id += "/" + d[k].(string)
			}
			ids = append(ids, id)
		}
		return ids
	}
	tests := map[string]struct {
		query string
		want  []string
	}{
		"all device twins": {"SELECT * FROM devices", all(f.Devices)},
		"region tag":       {"SELECT * FROM devices WHERE tags.location.region = 'US'", []string{"AZ3166Device", "device1"}},
		"region and frequency": {
			"SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60",
			[]string{"AZ3166Device", "device1"},
		},
		// AZ3166Device reports connectivity as an object, which compares
		// with nothing.
		"connectivity in list": {"SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired', 'wifi']", []string{"device1", "device2"}},
		"is_defined object":    {"SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)", []string{"AZ3166Device", "device1", "device2", "device3"}},
		"all module twins":     {"SELECT * FROM devices.modules", all(f.Modules, "moduleId")},
		"scanning modules": {
			"SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning'",
			[]string{"device1/scanner", "device2/scanner", "device3/scanner"},
		},
		"scanning modules of two devices": {
			"SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' AND deviceId IN ['device1', 'device2']",
			[]string{"device1/scanner", "device2/scanner"},
		},
		"jobs of a device": {
			"SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId'",
			[]string{"myDeviceId/job-twin-0", "myDeviceId/job-twin-1", "myDeviceId/job-twin-2", "myDeviceId/job-method-1"},
		},
		// The documentation's field createdTimeUtc does not exist: job
		// records carry createdDateTimeUtc, so the query as documented
		// matches nothing.
		"completed twin jobs as documented": {
			"SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId' AND devices.jobs.jobType = 'scheduleUpdateTwin' AND devices.jobs.status = 'completed' AND devices.jobs.createdTimeUtc > '2016-09-01'",
			[]string{},
		},
		"completed twin jobs": {
			"SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId' AND devices.jobs.jobType = 'scheduleUpdateTwin' AND devices.jobs.status = 'completed' AND devices.jobs.createdDateTimeUtc > '2016-09-01'",
			[]string{"myDeviceId/job-twin-1"},
		},
		"one job":                  {"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'myJobId'", []string{"device1/myJobId", "device2/myJobId", "device3/myJobId"}},
		"edge target":              {"SELECT * FROM devices WHERE tags.operator = 'John' AND tags.environment = 'prod' AND NOT deviceId = 'linuxprod1'", []string{"linuxprod2"}},
		"edge target one device":   {"SELECT * FROM devices WHERE deviceId='linuxprod1'", []string{"linuxprod1"}},
		"edge target or list":      {"SELECT * FROM devices WHERE deviceId='linuxprod1' OR deviceId='linuxtest1' OR deviceId = 'absent'", []string{"linuxprod1", "linuxtest1"}},
		"edge target device model": {"SELECT * FROM devices WHERE properties.reported.devicemodel = '4000x'", []string{"linuxprod1", "linuxtest1"}},
		"edge capability":          {"select * from devices where capabilities.iotEdge = true", []string{"linuxprod1", "linuxprod2", "linuxtest1"}},
		"doubled quote":            {"SELECT * FROM devices WHERE deviceId='operator''sDevice'", []string{"operator'sDevice"}},
		"desired version":          {"SELECT * FROM devices.modules WHERE properties.desired.$version = properties.reported.lastDesiredVersion", []string{"linuxprod1/$edgeAgent", "linuxprod2/$edgeAgent"}},
		"metadata last updated":    {"SELECT * FROM devices WHERE properties.desired.$metadata.$lastUpdated >= '2024-02-01'", []string{"lora-01"}},
		"quoted group":             {"SELECT * FROM devices WHERE tags.[[group]].name = 'north'", []string{"arrays"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, f.ids(t, tt.query)); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.query, d)
			}
		})
	}
}

// TestDocumentedRows checks the rows of the documented projection,
// aggregate and metric queries.
func TestDocumentedRows(t *testing.T) {
	f := loadFleet(t)
	tests := map[string]struct {
		query string
		want  string // the items as JSON
	}{
		"count":      {"SELECT COUNT() as totalNumberOfDevices FROM devices", `[{"totalNumberOfDevices":20}]`},
		"group by":   {"SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status", `[{"numberOfDevices":3,"status":"Success"},{"numberOfDevices":2,"status":"Pending"},{"numberOfDevices":1,"status":"Error"}]`},
		"projection": {"SELECT DeviceId, LastActivityTime FROM devices WHERE status = 'enabled' AND connectionState = 'Disconnected'", `[{"deviceId":"AZ3166Device","lastActivityTime":"2021-05-07T00:50:38.0543092Z"}]`},
		"configuration metric": {
			"SELECT deviceId FROM devices WHERE configurations.[[cfg]].status='Applied' AND properties.reported.chillerWaterSettings.status='pending'",
			`[{"deviceId":"chiller-01"}]`,
		},
		"module metric": {
			"SELECT deviceId, moduleId FROM devices.modules WHERE properties.reported.lastDesiredStatus.code = 200",
			`[{"deviceId":"linuxprod1","moduleId":"$edgeAgent"},{"deviceId":"linuxprod1","moduleId":"$edgeHub"}]`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, res := f.run(t, tt.query)
			if res.ItemType != ItemRaw {
				t.Errorf("ItemType = %q, want %q", res.ItemType, ItemRaw)
			}
			if d := cmp.Diff(tt.want, jsonString(t, res.Items)); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.query, d)
			}
		})
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	return string(b)
}

// evalDoc is one twin-shaped document with a value of each type.
var evalDoc = map[string]any{
	"deviceId": "dev-1",
	"tags": map[string]any{
		"n":     10.0,
		"zero":  0.0,
		"neg":   -2.5,
		"s":     "abc",
		"upper": "ABC",
		"num":   "10",
		"t":     true,
		"f":     false,
		"nil":   nil,
		"o":     map[string]any{"k": "v"},
		"a":     []any{1.0, "x"},
		"big":   1e308,
		"Mixed": "exact-Mixed",
		"mixed": "exact-mixed",
		"Dup":   "Dup",
		"DUP":   "DUP",
	},
	"properties": map[string]any{
		"desired":  map[string]any{"$version": 4.0, "x": 4.0},
		"reported": map[string]any{"$version": 9.0, "x": 4.0},
	},
}

// evalCond evaluates a condition over evalDoc and names the result: true,
// false or undefined.
func evalCond(t *testing.T, cond string) string {
	t.Helper()
	q, err := ParseCondition(Devices, cond)
	if err != nil {
		t.Fatalf("ParseCondition(%q): %v", cond, err)
	}
	v := q.where.eval(evalDoc)
	got := "undefined"
	if b, ok := v.truth(); ok {
		got = "false"
		if b {
			got = "true"
		}
	}
	if q.Match(evalDoc) != (got == "true") {
		t.Errorf("Match(%q) = %v, but the condition is %s", cond, q.Match(evalDoc), got)
	}
	return got
}

// TestOperators covers every operator and function on every kind of
// operand.
func TestOperators(t *testing.T) {
	tests := map[string]string{
		// equality
		"tags.n = 10":          "true",
		"tags.n = 11":          "false",
		"tags.n != 11":         "true",
		"tags.n <> 10":         "false",
		"tags.s = 'abc'":       "true",
		`tags.s = "abc"`:       "true",
		"tags.s = 'ABC'":       "false",
		"tags.s != 'ABC'":      "true",
		"tags.t = true":        "true",
		"tags.t != false":      "true",
		"tags.f = false":       "true",
		"tags.n = tags.n":      "true",
		"tags.zero = -0":       "true",
		"0x0A = tags.n":        "true",
		"tags.s = tags.upper":  "false",
		"deviceId = 'dev-1'":   "true",
		"DEVICEID = 'dev-1'":   "true",
		"deviceid = 'DEV-1'":   "false",
		"Tags.S = 'abc'":       "true",
		"devices.tags.s='abc'": "true",
		// constant first
		"10 = tags.n":     "true",
		"11 > tags.n":     "true",
		"'abc' = tags.s":  "true",
		"'abd' <= tags.s": "false",
		"true = tags.t":   "true",
		"null != tags.s":  "true",
		// ordering
		"tags.n < 11":                           "true",
		"tags.n <= 10":                          "true",
		"tags.n > 10":                           "false",
		"tags.n >= 10.5":                        "false",
		"tags.neg < tags.zero":                  "true",
		"tags.s < 'abd'":                        "true",
		"tags.s > 'ab'":                         "true",
		"tags.upper < tags.s":                   "true",
		"tags.s >= 'abc'":                       "true",
		"tags.s <= 'abb'":                       "false",
		"'a' < 'é'":                             "true",
		"'2016-10-01' > '2016-09-30T23:59:59Z'": "true",
		// arithmetic
		"tags.n + 1 = 11":                     "true",
		"tags.n - 1 = 9":                      "true",
		"tags.n * 2 = 20":                     "true",
		"tags.n / 4 = 2.5":                    "true",
		"tags.n % 3 = 1":                      "true",
		"-tags.n % 3 = -1":                    "true",
		"tags.neg % 2 = -0.5":                 "true",
		"1 + 2 * 3 = 7":                       "true",
		"(1 + 2) * 3 = 9":                     "true",
		"10 - 4 - 3 = 3":                      "true",
		"-tags.n = -10":                       "true",
		"- -tags.n = 10":                      "true",
		"-(tags.n - 20) = 10":                 "true",
		"tags.n / 0 = 1":                      "undefined",
		"tags.n % 0 = 1":                      "undefined",
		"tags.big * 10 > 0":                   "undefined",
		"tags.s + 'd' = 'abcd'":               "undefined",
		"tags.num + 1 = 11":                   "undefined",
		"-tags.s = 1":                         "undefined",
		"tags.t + 1 = 2":                      "undefined",
		"tags.missing + 1 = 1":                "undefined",
		"properties.desired.$version * 2 = 8": "true",
		// logic
		"true":                                  "true",
		"false":                                 "false",
		"tags.t":                                "true",
		"tags.f":                                "false",
		"tags.s":                                "undefined",
		"tags.n":                                "undefined",
		"tags.nil":                              "undefined",
		"tags.o":                                "undefined",
		"tags.t AND tags.t":                     "true",
		"tags.t AND tags.f":                     "false",
		"tags.t OR tags.f":                      "true",
		"tags.f OR tags.f":                      "false",
		"NOT tags.t":                            "false",
		"NOT tags.f":                            "true",
		"NOT tags.s":                            "undefined",
		"NOT NOT tags.t":                        "true",
		"tags.t AND tags.s":                     "undefined",
		"tags.f AND tags.s":                     "false",
		"tags.s AND tags.f":                     "false",
		"tags.t OR tags.s":                      "true",
		"tags.s OR tags.t":                      "true",
		"tags.f OR tags.s":                      "undefined",
		"tags.s OR tags.s":                      "undefined",
		"(tags.n = 10) = true":                  "true",
		"(tags.n = 10) = (1 = 2)":               "false",
		"tags.n = 10 OR tags.x = 1 AND false":   "true",
		"(tags.n = 10 OR tags.x = 1) AND false": "false",
		"NOT tags.n = 11 AND tags.t":            "true",
		// IN and NIN
		"tags.s IN ['x', 'abc']": "true",
		"tags.s IN ['x', 'y']":   "false",
		"tags.s NIN ['x', 'y']":  "true",
		"tags.s NIN ['abc']":     "false",
		"tags.n IN [1, 10]":      "true",
		"tags.n IN [0xA]":        "true",
		"tags.t IN [true]":       "true",
		"tags.nil IN [null]":     "true",
		"tags.s IN [null]":       "false",
		"tags.s IN ['ABC']":      "false",
		"tags.num IN [10]":       "undefined",
		"tags.n IN ['x', 10]":    "true",
		"tags.n IN ['x', 11]":    "undefined",
		"tags.n NIN ['x', 11]":   "undefined",
		"tags.o IN ['v']":        "undefined",
		"tags.missing IN ['a']":  "undefined",
		"tags.missing NIN ['a']": "undefined",
		"deviceId IN ['dev-1']":  "true",
		"tags.n + 1 IN [11]":     "true",
		"tags.s IN [undefined]":  "undefined",
		// functions
		"IS_DEFINED(tags.s)":               "true",
		"IS_DEFINED(tags.nil)":             "true",
		"IS_DEFINED(tags.o)":               "true",
		"IS_DEFINED(tags.missing)":         "false",
		"IS_DEFINED(tags.s.deeper)":        "false",
		"IS_DEFINED(tags.n / 0)":           "false",
		"is_defined(TAGS.S)":               "true",
		"NOT IS_DEFINED(tags.missing)":     "true",
		"IS_NULL(tags.nil)":                "true",
		"IS_NULL(tags.s)":                  "false",
		"IS_NULL(tags.missing)":            "false",
		"IS_BOOL(tags.t)":                  "true",
		"IS_BOOL(tags.s)":                  "false",
		"IS_BOOL(tags.n = 1)":              "true",
		"IS_NUMBER(tags.n)":                "true",
		"IS_NUMBER(tags.num)":              "false",
		"IS_STRING(tags.num)":              "true",
		"IS_STRING(tags.n)":                "false",
		"IS_OBJECT(tags.o)":                "true",
		"IS_OBJECT(tags.a)":                "false",
		"IS_ARRAY(tags.a)":                 "true",
		"IS_ARRAY(tags.o)":                 "false",
		"IS_PRIMITIVE(tags.s)":             "true",
		"IS_PRIMITIVE(tags.n)":             "true",
		"IS_PRIMITIVE(tags.t)":             "true",
		"IS_PRIMITIVE(tags.nil)":           "true",
		"IS_PRIMITIVE(tags.o)":             "false",
		"IS_PRIMITIVE(tags.a)":             "false",
		"IS_PRIMITIVE(tags.missing)":       "false",
		"STARTSWITH(deviceId, 'dev')":      "true",
		"STARTSWITH(deviceId, 'DEV')":      "false",
		"STARTSWITH(deviceId, '')":         "true",
		"STARTSWITH(deviceId, 'x')":        "false",
		"STARTSWITH(tags.n, '1')":          "undefined",
		"STARTSWITH(tags.missing, 'a')":    "undefined",
		"STARTSWITH(deviceId, tags.s)":     "false",
		"ENDSWITH(deviceId, '-1')":         "true",
		"ENDSWITH(deviceId, 'dev')":        "false",
		"ENDSWITH(deviceId, 1)":            "undefined",
		"NOT STARTSWITH(tags.n, '1')":      "undefined",
		"startsWith(deviceId, 'd') = true": "true",
	}
	for cond, want := range tests {
		t.Run(cond, func(t *testing.T) {
			if got := evalCond(t, cond); got != want {
				t.Errorf("%s is %s, want %s", cond, got, want)
			}
		})
	}
}

// TestValueTypes checks that numbers of any Go type a store might build a
// document with compare as numbers, and that types outside the JSON model
// are undefined.
func TestValueTypes(t *testing.T) {
	q, err := ParseCondition(Devices, "tags.n = 3")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{3.0, 3, int64(3), int32(3), float32(3), json.Number("3")} {
		if !q.Match(map[string]any{"tags": map[string]any{"n": v}}) {
			t.Errorf("tags.n = %#v does not match %s", v, q)
		}
	}
	for _, v := range []any{json.Number("x"), uint8(3), struct{}{}, "3"} {
		if q.Match(map[string]any{"tags": map[string]any{"n": v}}) {
			t.Errorf("tags.n = %#v matches %s", v, q)
		}
	}
	if q.Match(nil) {
		t.Errorf("a nil document matches %s", q)
	}
}
