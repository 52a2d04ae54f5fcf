package query

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The tests in this file pin the decisions docs/query.md lists under
// "Decisions where Azure's documentation is silent", one test per decision.

// matchIDs returns the device IDs of the docs the query matches.
func matchIDs(t *testing.T, query string, docs ...map[string]any) []string {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatalf("Parse(%q): %v", query, err)
	}
	ids := []string{}
	for _, d := range docs {
		if q.Match(d) {
			ids = append(ids, d["deviceId"].(string))
		}
	}
	return ids
}

// dev builds a device twin with the given tags.
func dev(id string, tags map[string]any) map[string]any {
	return map[string]any{"deviceId": id, "tags": tags}
}

type matchCase struct {
	query string
	want  []string
}

func runMatchCases(t *testing.T, docs []map[string]any, tests map[string]matchCase) {
	t.Helper()
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, matchIDs(t, tt.query, docs...)); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.query, d)
			}
		})
	}
}

func TestDecisionPrecedence(t *testing.T) {
	docs := []map[string]any{
		dev("a", map[string]any{"x": 1.0, "y": 0.0, "z": 0.0}),
		dev("b", map[string]any{"x": 0.0, "y": 1.0, "z": 1.0}),
		dev("c", map[string]any{"x": 0.0, "y": 1.0, "z": 0.0}),
	}
	runMatchCases(t, docs, map[string]matchCase{
		"AND before OR":     {"SELECT * FROM devices WHERE tags.x = 1 OR tags.y = 1 AND tags.z = 1", []string{"a", "b"}},
		"explicit grouping": {"SELECT * FROM devices WHERE (tags.x = 1 OR tags.y = 1) AND tags.z = 1", []string{"b"}},
		"NOT before AND":    {"SELECT * FROM devices WHERE NOT tags.x = 1 AND tags.z = 0", []string{"c"}},
		"NOT of OR":         {"SELECT * FROM devices WHERE NOT (tags.x = 1 OR tags.z = 1)", []string{"c"}},
		"arithmetic first":  {"SELECT * FROM devices WHERE tags.y + tags.z * 2 = 3", []string{"b"}},
	})
}

func TestDecisionCrossTypeComparison(t *testing.T) {
	docs := []map[string]any{
		dev("number", map[string]any{"floor": 1.0, "on": true}),
		dev("string", map[string]any{"floor": "1", "on": "true"}),
		dev("eighty", map[string]any{"floor": "80", "on": 1.0}),
	}
	runMatchCases(t, docs, map[string]matchCase{
		"number constant":      {"SELECT * FROM devices WHERE tags.floor = 1", []string{"number"}},
		"string constant":      {"SELECT * FROM devices WHERE tags.floor = '1'", []string{"string"}},
		"not equal skips type": {"SELECT * FROM devices WHERE tags.floor != 2", []string{"number"}},
		"string vs number <":   {"SELECT * FROM devices WHERE tags.floor > 50", []string{}},
		"negated mismatch":     {"SELECT * FROM devices WHERE NOT tags.floor > 50", []string{"number"}},
		"bool vs string":       {"SELECT * FROM devices WHERE tags.on = true", []string{"number"}},
		"bool vs number":       {"SELECT * FROM devices WHERE tags.on != 1 OR tags.on = 1", []string{"eighty"}},
		"no ordering of bools": {"SELECT * FROM devices WHERE tags.on > false OR tags.on <= true", []string{}},
		"mismatch is excluded": {"SELECT * FROM devices WHERE tags.floor = 1 OR NOT tags.floor = 1", []string{"number"}},
		"type test instead":    {"SELECT * FROM devices WHERE IS_STRING(tags.floor)", []string{"string", "eighty"}},
	})
	if got := evalCond(t, "'80' > 50"); got != "undefined" {
		t.Errorf("'80' > 50 is %s, want undefined", got)
	}
	if got := evalCond(t, "tags.o = tags.o"); got != "undefined" {
		t.Errorf("an object compared with itself is %s, want undefined", got)
	}
	if got := evalCond(t, "tags.a != tags.o"); got != "undefined" {
		t.Errorf("an array compared with an object is %s, want undefined", got)
	}
}

func TestDecisionAbsentProperties(t *testing.T) {
	docs := []map[string]any{
		dev("one", map[string]any{"x": 1.0}),
		dev("two", map[string]any{"x": 2.0}),
		dev("none", map[string]any{}),
		{"deviceId": "no-tags"},
	}
	runMatchCases(t, docs, map[string]matchCase{
		"=":                    {"SELECT * FROM devices WHERE tags.x = 1", []string{"one"}},
		"!=":                   {"SELECT * FROM devices WHERE tags.x != 1", []string{"two"}},
		"<>":                   {"SELECT * FROM devices WHERE tags.x <> 1", []string{"two"}},
		"<":                    {"SELECT * FROM devices WHERE tags.x < 2", []string{"one"}},
		"<=":                   {"SELECT * FROM devices WHERE tags.x <= 2", []string{"one", "two"}},
		"NIN":                  {"SELECT * FROM devices WHERE tags.x NIN [1]", []string{"two"}},
		"NOT":                  {"SELECT * FROM devices WHERE NOT tags.x = 1", []string{"two"}},
		"OR rescues":           {"SELECT * FROM devices WHERE tags.x = 1 OR deviceId = 'none'", []string{"one", "none"}},
		"AND false wins":       {"SELECT * FROM devices WHERE NOT (tags.x = 1 AND false)", []string{"one", "two", "none", "no-tags"}},
		"undefined constant":   {"SELECT * FROM devices WHERE tags.x = undefined OR tags.x != undefined", []string{}},
		"absent, spelled out":  {"SELECT * FROM devices WHERE NOT IS_DEFINED(tags.x) OR tags.x != 1", []string{"two", "none", "no-tags"}},
		"path through missing": {"SELECT * FROM devices WHERE tags.x.y != 1", []string{}},
	})
}

func TestDecisionNull(t *testing.T) {
	docs := []map[string]any{
		{"deviceId": "null", "x509Thumbprint": map[string]any{"primaryThumbprint": nil}},
		{"deviceId": "set", "x509Thumbprint": map[string]any{"primaryThumbprint": "ABC"}},
		{"deviceId": "object", "x509Thumbprint": map[string]any{"primaryThumbprint": map[string]any{}}},
		{"deviceId": "absent", "x509Thumbprint": map[string]any{}},
	}
	runMatchCases(t, docs, map[string]matchCase{
		"= null":       {"SELECT * FROM devices WHERE x509Thumbprint.primaryThumbprint = null", []string{"null"}},
		"!= null":      {"SELECT * FROM devices WHERE x509Thumbprint.primaryThumbprint != null", []string{"set", "object"}},
		"NOT = null":   {"SELECT * FROM devices WHERE NOT x509Thumbprint.primaryThumbprint = null", []string{"set", "object"}},
		"IN null":      {"SELECT * FROM devices WHERE x509Thumbprint.primaryThumbprint IN [null, 'ABC']", []string{"null", "set"}},
		"null < ":      {"SELECT * FROM devices WHERE x509Thumbprint.primaryThumbprint < 'Z' OR x509Thumbprint.primaryThumbprint >= null", []string{"set"}},
		"IS_NULL":      {"SELECT * FROM devices WHERE IS_NULL(x509Thumbprint.primaryThumbprint)", []string{"null"}},
		"IS_DEFINED":   {"SELECT * FROM devices WHERE IS_DEFINED(x509Thumbprint.primaryThumbprint)", []string{"null", "set", "object"}},
		"IS_PRIMITIVE": {"SELECT * FROM devices WHERE IS_PRIMITIVE(x509Thumbprint.primaryThumbprint)", []string{"null", "set"}},
		"null = null":  {"SELECT * FROM devices WHERE null = null AND deviceId = 'set'", []string{"set"}},
	})
}

func TestDecisionFunctions(t *testing.T) {
	for _, fn := range []string{"IS_DEFINED(x)", "IS_NULL(x)", "IS_BOOL(x)", "IS_NUMBER(x)", "IS_STRING(x)", "IS_OBJECT(x)", "IS_ARRAY(x)", "IS_PRIMITIVE(x)", "STARTSWITH(x, 'a')", "ENDSWITH(x, 'a')"} {
		if _, err := Parse("SELECT * FROM devices WHERE " + fn); err != nil {
			t.Errorf("%s is rejected: %v", fn, err)
		}
	}
	for _, fn := range []string{"STARTS_WITH(x, 'a')", "ENDS_WITH(x, 'a')", "CONTAINS(x, 'a')", "LOWER(x) = 'a'", "UPPER(x) = 'a'", "LENGTH(x) = 1", "SUBSTRING(x, 1) = 'a'", "INDEX_OF(x, 'a') = 1", "CONCAT(x, 'a') = 'a'", "ABS(x) = 1", "CEILING(x) = 1", "FLOOR(x) = 1", "SQRT(x) = 1", "POWER(x, 2) = 1", "AS_NUMBER(x) = 1", "IS_INTEGER(x)", "STARTSWITH(x, 'a', true)"} {
		var se *SyntaxError
		if _, err := Parse("SELECT * FROM devices WHERE " + fn); !errors.As(err, &se) {
			t.Errorf("%s: error %v, want a syntax error", fn, err)
		}
	}
}

func TestDecisionNameResolution(t *testing.T) {
	tests := map[string]string{
		"tags.Mixed = 'exact-Mixed'": "true", // exact spelling wins
		"tags.mixed = 'exact-mixed'": "true",
		"tags.MIXED = 'exact-Mixed'": "true", // no exact key: "Mixed" < "mixed" in byte order
		"tags.dup = 'DUP'":           "true", // "DUP" < "Dup"
		"tags.Dup = 'Dup'":           "true",
		"tags.S = 'abc'":             "true",
		"TAGS.s = 'abc'":             "true",
		"tags.s = 'ABC'":             "false", // values stay case-sensitive
	}
	for cond, want := range tests {
		if got := evalCond(t, cond); got != want {
			t.Errorf("%s is %s, want %s", cond, got, want)
		}
	}
	// The choice must not depend on map iteration order.
	q, err := ParseCondition(Devices, "tags.KEY = 'b'")
	if err != nil {
		t.Fatal(err)
	}
	doc := dev("d", map[string]any{"kEy": "c", "Key": "b", "kEY": "e", "keY": "d"})
	for range 50 {
		if !q.Match(doc) {
			t.Fatal("tags.KEY did not resolve to the smallest key, Key")
		}
	}
}

func TestDecisionAggregates(t *testing.T) {
	docs := []map[string]any{
		dev("a", map[string]any{"t": 20.0, "site": "x"}),
		dev("b", map[string]any{"t": "30", "site": "x"}),
		dev("c", map[string]any{"t": 10.0, "site": "y"}),
		dev("d", map[string]any{"site": "y"}),
		dev("e", map[string]any{"t": true, "site": "z"}),
	}
	tests := map[string]struct{ query, want string }{
		"numbers only":         {"SELECT COUNT() AS n, AVG(tags.t) AS avg, SUM(tags.t) AS sum, MIN(tags.t) AS min, MAX(tags.t) AS max FROM devices", `[{"avg":15,"max":20,"min":10,"n":5,"sum":30}]`},
		"no numbers":           {"SELECT COUNT() AS n, AVG(tags.t) AS avg, SUM(tags.t) AS sum, MIN(tags.t) AS min, MAX(tags.t) AS max FROM devices WHERE tags.site = 'z'", `[{"n":1,"sum":0}]`},
		"no rows":              {"SELECT COUNT() AS n, SUM(tags.t) AS sum, MAX(tags.t) AS max FROM devices WHERE false", `[{"n":0,"sum":0}]`},
		"unaliased":            {"SELECT COUNT(), MAX(tags.t), MIN(tags.t) AS low FROM devices", `[{"$1":5,"$2":20,"low":10}]`},
		"per group":            {"SELECT tags.site, AVG(tags.t) AS avg, COUNT() AS n FROM devices GROUP BY tags.site", `[{"avg":20,"n":2,"site":"x"},{"avg":10,"n":2,"site":"y"},{"n":1,"site":"z"}]`},
		"with WHERE and TOP 1": {"SELECT TOP 1 SUM(tags.t) AS s FROM devices WHERE tags.site = 'y'", `[{"s":10}]`},
		"TOP 0":                {"SELECT TOP 0 COUNT() FROM devices", `[]`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			q, err := Parse(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			res, err := q.Run(slices.Values(docs))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, jsonString(t, res.Items)); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.query, d)
			}
		})
	}

	t.Run("modules", func(t *testing.T) {
		f := loadFleet(t)
		_, res := f.run(t, "SELECT COUNT() AS n FROM devices.modules WHERE properties.reported.status = 'scanning'")
		if d := cmp.Diff(`[{"n":3}]`, jsonString(t, res.Items)); d != "" {
			t.Errorf("module count mismatch (-want +got):\n%s", d)
		}
	})
	t.Run("overflow", func(t *testing.T) {
		q, err := Parse("SELECT SUM(tags.t) FROM devices")
		if err != nil {
			t.Fatal(err)
		}
		big := []map[string]any{dev("a", map[string]any{"t": 1e308}), dev("b", map[string]any{"t": 1e308})}
		if _, err := q.Run(slices.Values(big)); err == nil {
			t.Error("SUM past the range of float64 succeeded")
		}
	})
}

func TestDecisionGroupBy(t *testing.T) {
	docs := []map[string]any{
		dev("a", map[string]any{"fw": 300.0}),
		dev("b", map[string]any{"fw": "300"}),
		dev("c", map[string]any{"fw": 300.0}),
		dev("d", map[string]any{}),
		dev("e", map[string]any{"fw": nil}),
		dev("f", map[string]any{"fw": map[string]any{"v": 1.0}}),
		dev("g", map[string]any{"fw": []any{1.0}}),
		dev("h", map[string]any{"FW": true}),
		dev("i", map[string]any{"fw": -0.0}),
		dev("j", map[string]any{"fw": 0.0}),
	}
	tests := map[string]struct{ query, want string }{
		"typed groups":    {"SELECT tags.fw, COUNT() AS n FROM devices GROUP BY tags.fw", `[{"fw":300,"n":2},{"fw":"300","n":1},{"fw":null,"n":1},{"FW":true,"n":1},{"fw":0,"n":2}]`},
		"alias":           {"SELECT tags.fw AS v, COUNT() AS n FROM devices GROUP BY tags.FW", `[{"n":2,"v":300},{"n":1,"v":"300"},{"n":1,"v":null},{"n":1,"v":true},{"n":2,"v":0}]`},
		"distinct values": {"SELECT tags.fw FROM devices WHERE IS_NUMBER(tags.fw) GROUP BY tags.fw", `[{"fw":300},{"fw":0}]`},
		"aggregate only":  {"SELECT COUNT() AS n FROM devices GROUP BY tags.fw", `[{"n":2},{"n":1},{"n":1},{"n":1},{"n":2}]`},
		"TOP limits rows": {"SELECT TOP 2 tags.fw, COUNT() AS n FROM devices GROUP BY tags.fw", `[{"fw":300,"n":2},{"fw":"300","n":1}]`},
		"no match":        {"SELECT tags.fw, COUNT() AS n FROM devices WHERE false GROUP BY tags.fw", `[]`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			q, err := Parse(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			res, err := q.Run(slices.Values(docs))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, jsonString(t, res.Items)); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.query, d)
			}
		})
	}
	t.Run("modules", func(t *testing.T) {
		f := loadFleet(t)
		_, res := f.run(t, "SELECT properties.reported.status AS status, COUNT() AS n FROM devices.modules GROUP BY properties.reported.status")
		if d := cmp.Diff(`[{"n":3,"status":"scanning"},{"n":1,"status":"idle"}]`, jsonString(t, res.Items)); d != "" {
			t.Errorf("module groups mismatch (-want +got):\n%s", d)
		}
	})
}

func TestDecisionProjections(t *testing.T) {
	docs := []map[string]any{
		{"deviceId": "a", "tags": map[string]any{"Site": "x", "o": map[string]any{"k": 1.0}}},
		{"deviceId": "b", "tags": map[string]any{}},
	}
	tests := map[string]struct{ query, want string }{
		"document spelling": {"SELECT DEVICEID, tags.site FROM devices", `[{"Site":"x","deviceId":"a"},{"deviceId":"b"}]`},
		"alias":             {"SELECT tags.site AS [[where]] FROM devices", `[{"where":"x"},{}]`},
		"nested object":     {"SELECT tags.o FROM devices", `[{"o":{"k":1}},{}]`},
		"qualified path":    {"SELECT devices.deviceId FROM devices", `[{"deviceId":"a"},{"deviceId":"b"}]`},
		"$ names":           {"SELECT tags.o.k AS [[$k]] FROM devices WHERE deviceId = 'a'", `[{"$k":1}]`},
		"TOP":               {"SELECT TOP 1 deviceId FROM devices", `[{"deviceId":"a"}]`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			q, err := Parse(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			res, err := q.Run(slices.Values(docs))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, jsonString(t, res.Items)); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.query, d)
			}
		})
	}
}

func TestDecisionUnsupportedClauses(t *testing.T) {
	for _, q := range []string{
		"SELECT * FROM devices ORDER BY deviceId",
		"SELECT * FROM devices WHERE deviceId LIKE 'a%'",
		"SELECT * FROM devices WHERE tags.x BETWEEN 1 AND 2",
		"SELECT DISTINCT tags.x FROM devices",
		"SELECT * FROM devices WHERE tags.x IS NULL",
		"SELECT * FROM devices HAVING COUNT() > 1",
		"SELECT * FROM devices LIMIT 10",
	} {
		var se *SyntaxError
		if _, err := Parse(q); !errors.As(err, &se) {
			t.Errorf("Parse(%q) error = %v, want a syntax error", q, err)
		}
	}
}

func TestDecisionLengthLimit(t *testing.T) {
	prefix := "SELECT * FROM devices WHERE deviceId IN ["
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; b.Len() < MaxLength-10; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("'d'")
	}
	for b.Len() < MaxLength-1 {
		b.WriteString(" ")
	}
	b.WriteString("]")
	exact := b.String()
	if _, err := Parse(exact); err != nil {
		t.Errorf("a query of exactly %d characters (a long IN list) is rejected: %v", len(exact), err)
	}
	var se *SyntaxError
	if _, err := Parse(exact + " "); !errors.As(err, &se) || se.Column != MaxLength+1 {
		t.Errorf("a query of %d characters: error %v, want a syntax error at column %d", MaxLength+1, err, MaxLength+1)
	}
	// The limit counts characters, not bytes.
	multibyte := "SELECT * FROM devices WHERE x = '" + strings.Repeat("€", MaxLength-34) + "'"
	if _, err := Parse(multibyte); err != nil {
		t.Errorf("a query of %d characters (%d bytes) is rejected: %v", MaxLength, len(multibyte), err)
	}
	cond := strings.Repeat(" ", MaxLength) + "a = 1"
	if _, err := ParseCondition(Devices, cond); !errors.As(err, &se) {
		t.Errorf("a condition longer than %d characters: error %v, want a syntax error", MaxLength, err)
	}
}

func TestDecisionStringOrdering(t *testing.T) {
	tests := map[string]string{
		"'B' < 'a'":                             "true", // ordinal: upper case sorts first
		"'a' < 'B'":                             "false",
		"'Z' < 'a'":                             "true",
		"'é' > 'z'":                             "true", // U+00E9 after U+007A
		"'\uFFFF' < '😀'":                        "true", // code point order, not UTF-16 code units
		"'abc' < 'abcd'":                        "true", // a prefix sorts first
		"'10' < '9'":                            "true", // strings are not numbers
		"'2016-09-29T18:18:56Z' > '2016-09-01'": "true",
	}
	for cond, want := range tests {
		if got := evalCond(t, cond); got != want {
			t.Errorf("%s is %s, want %s", cond, got, want)
		}
	}
}

func TestDecisionQualifiedPaths(t *testing.T) {
	f := loadFleet(t)
	tests := map[string]matchCase{
		"devices prefix":             {"SELECT * FROM devices WHERE devices.tags.location.region = 'US'", []string{"AZ3166Device", "device1"}},
		"modules full prefix":        {"SELECT * FROM devices.modules WHERE devices.modules.moduleId = 'logger'", []string{"device1/logger"}},
		"modules devices prefix":     {"SELECT * FROM devices.modules WHERE devices.deviceId = 'device2'", []string{"device2/scanner"}},
		"modules mixed case prefix":  {"SELECT * FROM devices.modules WHERE Devices.Modules.ModuleId = 'logger'", []string{"device1/logger"}},
		"jobs qualified":             {"SELECT * FROM devices.jobs WHERE devices.jobs.status = 'running'", []string{"device3/myJobId"}},
		"jobs unqualified":           {"SELECT * FROM devices.jobs WHERE status = 'running'", []string{"device3/myJobId"}},
		"jobs nested field":          {"SELECT * FROM devices.jobs WHERE devices.jobs.error.code = 'DeviceNotOnline'", []string{"device2/myJobId"}},
		"jobs outcome":               {"SELECT * FROM devices.jobs WHERE outcome.deviceMethodResponse.status = 200", []string{"myDeviceId/job-method-1", "device1/myJobId"}},
		"jobs twin fields undefined": {"SELECT * FROM devices.jobs WHERE IS_DEFINED(tags)", []string{}},
		"jobs values case-sensitive": {"SELECT * FROM devices.jobs WHERE status = 'Completed'", []string{}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, f.ids(t, tt.query)); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.query, d)
			}
		})
	}
	var se *SyntaxError
	if _, err := Parse("SELECT * FROM devices.jobs WHERE devices.properties.reported.x = 1"); !errors.As(err, &se) || se.Column != 34 {
		t.Errorf("a devices.jobs query naming the twin: error %v, want a syntax error at column 34", err)
	}
}
