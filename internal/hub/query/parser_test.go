package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"select star":           {"SELECT * FROM devices", "SELECT * FROM devices"},
		"keywords in any case":  {"select * From devices wHeRe tags.x = 1", "SELECT * FROM devices WHERE tags.x = 1"},
		"modules":               {"Select * from Devices.Modules where properties.reported.status = 'scanning'", "SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning'"},
		"jobs":                  {"SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId'", "SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId'"},
		"spaced collection":     {"SELECT * FROM devices . jobs", "SELECT * FROM devices.jobs"},
		"whitespace":            {"SELECT\t*\n FROM\r\n devices\n WHERE  a=1", "SELECT * FROM devices WHERE a = 1"},
		"top":                   {"select top 10 * from devices", "SELECT TOP 10 * FROM devices"},
		"top zero":              {"SELECT TOP 0 * FROM devices", "SELECT TOP 0 * FROM devices"},
		"top hex":               {"SELECT TOP 0x10 deviceId FROM devices", "SELECT TOP 16 deviceId FROM devices"},
		"count":                 {"SELECT COUNT() as totalNumberOfDevices FROM devices", "SELECT COUNT() AS totalNumberOfDevices FROM devices"},
		"count spaced":          {"SELECT count ( ) FROM devices", "SELECT COUNT() FROM devices"},
		"aggregates":            {"SELECT avg(x) AS a, sum(x), Min(y), MAX(devices.z) FROM devices", "SELECT AVG(x) AS a, SUM(x), MIN(y), MAX(devices.z) FROM devices"},
		"group by":              {"SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status", "SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status"},
		"group by modules":      {"SELECT moduleId, COUNT() AS n FROM devices.modules GROUP BY moduleId", "SELECT moduleId, COUNT() AS n FROM devices.modules GROUP BY moduleId"},
		"group by without agg":  {"SELECT tags.site FROM devices GROUP BY TAGS.SITE", "SELECT tags.site FROM devices GROUP BY TAGS.SITE"},
		"projections":           {"SELECT DeviceId, LastActivityTime FROM devices WHERE status = 'enabled' AND connectionState = 'Disconnected'", "SELECT DeviceId, LastActivityTime FROM devices WHERE status = 'enabled' AND connectionState = 'Disconnected'"},
		"module projection":     {"SELECT deviceId, moduleId FROM devices.modules WHERE properties.reported.lastDesiredStatus.code = 200", "SELECT deviceId, moduleId FROM devices.modules WHERE properties.reported.lastDesiredStatus.code = 200"},
		"quoted alias":          {"SELECT deviceId AS [[from]] FROM devices", "SELECT deviceId AS [[from]] FROM devices"},
		"quoted segment":        {"SELECT deviceId FROM devices WHERE configurations.[[cfg]].status='Applied'", "SELECT deviceId FROM devices WHERE configurations.cfg.status = 'Applied'"},
		"quoted keyword":        {"SELECT * FROM devices WHERE tags.[[group]].name = 'a'", "SELECT * FROM devices WHERE tags.[[group]].name = 'a'"},
		"quoted odd name":       {"SELECT * FROM devices WHERE tags.[[my-key]] = 1 AND [[tags]].[[a]b]] = 2", "SELECT * FROM devices WHERE tags.[[my-key]] = 1 AND tags.[[a]b]] = 2"},
		"dollar segments":       {"SELECT * FROM devices.modules WHERE properties.desired.$version = properties.reported.lastDesiredVersion", "SELECT * FROM devices.modules WHERE properties.desired.$version = properties.reported.lastDesiredVersion"},
		"metadata":              {"SELECT * FROM devices WHERE properties.desired.$metadata.$lastUpdated >= '2024-01-01'", "SELECT * FROM devices WHERE properties.desired.$metadata.$lastUpdated >= '2024-01-01'"},
		"unicode name":          {"SELECT * FROM devices WHERE tags.température = 1", "SELECT * FROM devices WHERE tags.température = 1"},
		"double quotes":         {`SELECT * FROM devices WHERE x = "it's"`, `SELECT * FROM devices WHERE x = 'it\'s'`},
		"escapes":               {`SELECT * FROM devices WHERE x = 'a\"b\\c\u0041\/\'\t'`, `SELECT * FROM devices WHERE x = 'a"b\\cA/\'\t'`},
		"doubled quote":         {"SELECT * FROM devices WHERE deviceId='operator''sDevice'", `SELECT * FROM devices WHERE deviceId = 'operator\'sDevice'`},
		"doubled double quote":  {`SELECT * FROM devices WHERE x = "say ""hi"""`, `SELECT * FROM devices WHERE x = 'say "hi"'`},
		"empty strings":         {`SELECT * FROM devices WHERE x IN ['', ""]`, `SELECT * FROM devices WHERE x IN ['', '']`},
		"short escapes":         {`SELECT * FROM devices WHERE x = '\b\f\r\n\t'`, `SELECT * FROM devices WHERE x = '\u0008\u000c\r\n\t'`},
		"surrogate then letter": {`SELECT * FROM devices WHERE x = '\uD800\u0041'`, "SELECT * FROM devices WHERE x = '\uFFFDA'"},
		"surrogate pair":        {`SELECT * FROM devices WHERE x = '\uD83D\uDE00'`, "SELECT * FROM devices WHERE x = '\U0001F600'"},
		"lone surrogate":        {`SELECT * FROM devices WHERE x = '\uD83Dx'`, "SELECT * FROM devices WHERE x = '\uFFFDx'"},
		"control characters":    {"SELECT * FROM devices WHERE x = '\x01\n'", `SELECT * FROM devices WHERE x = '\u0001\n'`},
		"hex":                   {"SELECT * FROM devices WHERE x = 0x1F OR x = 0XfF", "SELECT * FROM devices WHERE x = 31 OR x = 255"},
		"decimals":              {"SELECT * FROM devices WHERE a = 1.50 AND b = 2e3 AND c = 1E21 AND d = 0.0000001 AND e = 007", "SELECT * FROM devices WHERE a = 1.5 AND b = 2000 AND c = 1e+21 AND d = 1e-7 AND e = 7"},
		"negative numbers":      {"SELECT * FROM devices WHERE x > -1 AND y IN [-2.5, - 3]", "SELECT * FROM devices WHERE x > -1 AND y IN [-2.5, -3]"},
		"keyword constants":     {"SELECT * FROM devices WHERE x = TRUE OR y = False OR z = NULL OR w = Undefined", "SELECT * FROM devices WHERE x = true OR y = false OR z = null OR w = undefined"},
		"not equal":             {"SELECT * FROM devices WHERE a <> 1 AND b != 2", "SELECT * FROM devices WHERE a != 1 AND b != 2"},
		"orderings":             {"SELECT * FROM devices WHERE a<1 AND b<=2 AND c>3 AND d>=4", "SELECT * FROM devices WHERE a < 1 AND b <= 2 AND c > 3 AND d >= 4"},
		"in and nin":            {`SELECT * FROM devices WHERE x in ['a', "b", 1, true, null, undefined] AND y nin [1]`, "SELECT * FROM devices WHERE x IN ['a', 'b', 1, true, null, undefined] AND y NIN [1]"},
		"single element IN":     {"SELECT * FROM devices WHERE deviceId IN ['MyDevice1']", "SELECT * FROM devices WHERE deviceId IN ['MyDevice1']"},
		"functions":             {"SELECT * FROM devices WHERE is_defined(x) AND startswith(deviceId, 'a') AND EndsWith(deviceId, 'z') AND Is_Null(n) AND IS_BOOL(b) AND IS_NUMBER(n) AND IS_STRING(s) AND IS_OBJECT(o) AND IS_ARRAY(a) AND IS_PRIMITIVE(p)", "SELECT * FROM devices WHERE IS_DEFINED(x) AND STARTSWITH(deviceId, 'a') AND ENDSWITH(deviceId, 'z') AND IS_NULL(n) AND IS_BOOL(b) AND IS_NUMBER(n) AND IS_STRING(s) AND IS_OBJECT(o) AND IS_ARRAY(a) AND IS_PRIMITIVE(p)"},
		"function of condition": {"SELECT * FROM devices WHERE IS_BOOL(a = 1 OR b)", "SELECT * FROM devices WHERE IS_BOOL(a = 1 OR b)"},
		"function path names":   {"SELECT tags.count, tags.order FROM devices WHERE tags.like = 1", "SELECT tags.count, tags.order FROM devices WHERE tags.like = 1"},
		"and binds tighter":     {"SELECT * FROM devices WHERE a = 1 OR b = 2 AND c = 3", "SELECT * FROM devices WHERE a = 1 OR b = 2 AND c = 3"},
		"parentheses kept":      {"SELECT * FROM devices WHERE (a = 1 OR b = 2) AND c = 3", "SELECT * FROM devices WHERE (a = 1 OR b = 2) AND c = 3"},
		"parentheses dropped":   {"SELECT * FROM devices WHERE ((a = 1)) AND (b = 2) OR ((c))", "SELECT * FROM devices WHERE a = 1 AND b = 2 OR c"},
		"right-nested and":      {"SELECT * FROM devices WHERE a AND (b AND c)", "SELECT * FROM devices WHERE a AND (b AND c)"},
		"not":                   {"SELECT * FROM devices WHERE tags.operator = 'John' AND NOT deviceId = 'linuxprod1'", "SELECT * FROM devices WHERE tags.operator = 'John' AND NOT deviceId = 'linuxprod1'"},
		"not of and":            {"SELECT * FROM devices WHERE NOT (a AND b) AND NOT NOT c", "SELECT * FROM devices WHERE NOT (a AND b) AND NOT NOT c"},
		"not binds looser":      {"SELECT * FROM devices WHERE NOT a = 1 AND b", "SELECT * FROM devices WHERE NOT a = 1 AND b"},
		"comparison of not":     {"SELECT * FROM devices WHERE (NOT a) = true", "SELECT * FROM devices WHERE (NOT a) = true"},
		"arithmetic":            {"SELECT * FROM devices WHERE a + b * c - d / e % f = 1", "SELECT * FROM devices WHERE a + b * c - d / e % f = 1"},
		"arithmetic grouping":   {"SELECT * FROM devices WHERE (a + b) * c = a - (b - c)", "SELECT * FROM devices WHERE (a + b) * c = a - (b - c)"},
		"unary minus":           {"SELECT * FROM devices WHERE -x = -(a + b) AND - -1 = -(2)", "SELECT * FROM devices WHERE -x = -(a + b) AND - -1 = -2"},
		"bare path condition":   {"SELECT * FROM devices WHERE properties.reported.flag", "SELECT * FROM devices WHERE properties.reported.flag"},
		"comparison of compars": {"SELECT * FROM devices WHERE (a = 1) = (b = 2)", "SELECT * FROM devices WHERE (a = 1) = (b = 2)"},
		"long":                  {"SELECT * FROM devices WHERE x = '" + strings.Repeat("é", MaxLength-len("SELECT * FROM devices WHERE x = ''")) + "'", "SELECT * FROM devices WHERE x = '" + strings.Repeat("é", MaxLength-len("SELECT * FROM devices WHERE x = ''")) + "'"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			q, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			got := q.String()
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Parse(%q).String() mismatch (-want +got):\n%s", tt.in, d)
			}
			q2, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse(%q) of the normal form: %v", got, err)
			}
			if again := q2.String(); again != got {
				t.Errorf("normal form is not stable: %q became %q", got, again)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		in     string
		column int
	}{
		"empty":                       {"", 1},
		"blank":                       {"   ", 4},
		"no select":                   {"FROM devices", 1},
		"missing from":                {"SELECT *", 9},
		"missing collection":          {"SELECT * FROM", 14},
		"unknown collection":          {"SELECT * FROM things", 15},
		"unknown sub-collection":      {"SELECT * FROM devices.twins", 23},
		"quoted collection":           {"SELECT * FROM [[devices]]", 15},
		"where without condition":     {"SELECT * FROM devices WHERE", 28},
		"keyword as expression":       {"SELECT * FROM devices WHERE FROM", 29},
		"unquoted group":              {"SELECT * FROM devices WHERE tags.group.name = 'a'", 34},
		"unquoted keyword segment":    {"SELECT * FROM devices WHERE tags.from = 1", 34},
		"keyword first segment":       {"SELECT * FROM devices WHERE group.x = 1", 29},
		"dot without name":            {"SELECT * FROM devices WHERE tags. = 1", 35},
		"trailing dot":                {"SELECT * FROM devices WHERE tags.", 34},
		"in parentheses":              {"SELECT * FROM devices WHERE x IN ('a', 'b')", 34},
		"nin parentheses":             {"SELECT * FROM devices WHERE x NIN ('a')", 35},
		"in without list":             {"SELECT * FROM devices WHERE x IN 'a'", 34},
		"empty array":                 {"SELECT * FROM devices WHERE x IN []", 35},
		"nested array":                {"SELECT * FROM devices WHERE x IN [ [1] ]", 36},
		"nested array unspaced":       {"SELECT * FROM devices WHERE x IN [[1]]", 34},
		"array trailing comma":        {"SELECT * FROM devices WHERE x IN [1,]", 37},
		"array minus string":          {"SELECT * FROM devices WHERE x IN [-'a']", 36},
		"array path element":          {"SELECT * FROM devices WHERE x IN [y]", 35},
		"unclosed array":              {"SELECT * FROM devices WHERE x IN [1", 36},
		"array outside IN":            {"SELECT * FROM devices WHERE x = [1]", 33},
		"STARTS_WITH":                 {"SELECT * FROM devices WHERE STARTS_WITH(deviceId, 'test')", 29},
		"CONTAINS":                    {"SELECT * FROM devices WHERE x = 1 AND CONTAINS(deviceId, 'test')", 39},
		"LOWER":                       {"SELECT * FROM devices WHERE LOWER(deviceId) = 'a'", 29},
		"unknown function":            {"SELECT * FROM devices WHERE FOO(x)", 29},
		"aggregate in WHERE":          {"SELECT * FROM devices WHERE COUNT() > 1", 29},
		"IS_DEFINED without argument": {"SELECT * FROM devices WHERE IS_DEFINED()", 40},
		"IS_DEFINED two arguments":    {"SELECT * FROM devices WHERE IS_DEFINED(a, b)", 43},
		"STARTSWITH one argument":     {"SELECT * FROM devices WHERE STARTSWITH(a)", 41},
		"STARTSWITH three arguments":  {"SELECT * FROM devices WHERE STARTSWITH(a, 'b', true)", 48},
		"unclosed call":               {"SELECT * FROM devices WHERE IS_DEFINED(a", 41},
		"ORDER BY":                    {"SELECT * FROM devices ORDER BY deviceId", 23},
		"ORDER BY after WHERE":        {"SELECT * FROM devices WHERE a = 1 ORDER BY deviceId", 35},
		"LIKE":                        {"SELECT * FROM devices WHERE deviceId LIKE 'a%'", 38},
		"BETWEEN":                     {"SELECT * FROM devices WHERE x BETWEEN 1 AND 2", 31},
		"IS NULL":                     {"SELECT * FROM devices WHERE x IS NULL", 31},
		"NOT IN":                      {"SELECT * FROM devices WHERE x NOT IN [1]", 31},
		"JOIN":                        {"SELECT * FROM devices JOIN devices.modules", 23},
		"chained comparison":          {"SELECT * FROM devices WHERE a = b = c", 35},
		"NOT as operand":              {"SELECT * FROM devices WHERE a = NOT b", 33},
		"double equals":               {"SELECT * FROM devices WHERE a == 1", 32},
		"bang":                        {"SELECT * FROM devices WHERE a ! 1", 31},
		"unbalanced parenthesis":      {"SELECT * FROM devices WHERE (a = 1", 35},
		"extra parenthesis":           {"SELECT * FROM devices WHERE a = 1)", 34},
		"missing operand":             {"SELECT * FROM devices WHERE a = ", 33},
		"missing right of AND":        {"SELECT * FROM devices WHERE a AND", 34},
		"stray character":             {"SELECT * FROM devices WHERE a = #", 33},
		"semicolon":                   {"SELECT * FROM devices;", 22},
		"trailing name":               {"SELECT * FROM devices x", 23},
		"unterminated string":         {"SELECT * FROM devices WHERE a = 'abc", 33},
		"unterminated after escape":   {`SELECT * FROM devices WHERE a = 'abc\`, 37},
		"unknown escape":              {`SELECT * FROM devices WHERE a = 'ab\x'`, 36},
		"short unicode escape":        {`SELECT * FROM devices WHERE a = '\u12'`, 34},
		"bad unicode escape":          {`SELECT * FROM devices WHERE a = '\u12G4'`, 34},
		"malformed number":            {"SELECT * FROM devices WHERE a = 12abc", 33},
		"empty hex":                   {"SELECT * FROM devices WHERE a = 0x", 33},
		"bad hex":                     {"SELECT * FROM devices WHERE a = 0x1G", 33},
		"decimal point alone":         {"SELECT * FROM devices WHERE a = 1.", 33},
		"exponent alone":              {"SELECT * FROM devices WHERE a = 1e+", 33},
		"two decimal points":          {"SELECT * FROM devices WHERE a = 1.2.3", 33},
		"number out of range":         {"SELECT * FROM devices WHERE a = 1e400", 33},
		"hex out of range":            {"SELECT * FROM devices WHERE a = 0x10000000000000000", 33},
		"unterminated brackets":       {"SELECT * FROM devices WHERE [[abc = 1", 29},
		"empty brackets":              {"SELECT * FROM devices WHERE tags.[[]] = 1", 34},
		"TOP without number":          {"SELECT TOP * FROM devices", 12},
		"TOP fraction":                {"SELECT TOP 1.5 * FROM devices", 12},
		"TOP negative":                {"SELECT TOP -1 * FROM devices", 12},
		"TOP too large":               {"SELECT TOP 3000000000 * FROM devices", 12},
		"COUNT(*)":                    {"SELECT COUNT(*) FROM devices", 14},
		"COUNT(x)":                    {"SELECT COUNT(deviceId) FROM devices", 14},
		"AVG()":                       {"SELECT AVG() FROM devices", 12},
		"AVG of expression":           {"SELECT AVG(1) FROM devices", 12},
		"function in SELECT":          {"SELECT IS_DEFINED(x) FROM devices", 8},
		"unknown function in SELECT":  {"SELECT LENGTH(x) FROM devices", 8},
		"constant in SELECT":          {"SELECT 1 FROM devices", 8},
		"star and more":               {"SELECT *, deviceId FROM devices", 9},
		"alias missing":               {"SELECT deviceId AS FROM devices", 20},
		"alias without AS":            {"SELECT deviceId id FROM devices", 17},
		"alias string":                {"SELECT deviceId AS 'id' FROM devices", 20},
		"duplicate names":             {"SELECT tags.x, properties.X FROM devices", 16},
		"duplicate aliases":           {"SELECT COUNT() AS n, SUM(x) AS N FROM devices", 22},
		"duplicate automatic names":   {"SELECT COUNT(), SUM(x) AS [[$1]] FROM devices", 17},
		"jobs projection":             {"SELECT deviceId FROM devices.jobs", 8},
		"jobs count":                  {"SELECT COUNT() FROM devices.jobs", 8},
		"jobs group by":               {"SELECT * FROM devices.jobs GROUP BY status", 28},
		"jobs twin path":              {"SELECT * FROM devices.jobs WHERE devices.tags.x = 1", 34},
		"jobs bare devices path":      {"SELECT * FROM devices.jobs WHERE devices.jobs = 1", 34},
		"group by star":               {"SELECT * FROM devices GROUP BY tags.x", 23},
		"group by ungrouped":          {"SELECT deviceId, COUNT() FROM devices GROUP BY tags.x", 8},
		"aggregate beside path":       {"SELECT COUNT(), deviceId FROM devices", 17},
		"group by without by":         {"SELECT tags.x FROM devices GROUP tags.x", 34},
		"group by expression":         {"SELECT tags.x FROM devices GROUP BY 1", 37},
		"group by two paths":          {"SELECT tags.x FROM devices GROUP BY tags.x, tags.y", 43},
		"where after group by":        {"SELECT tags.x FROM devices GROUP BY tags.x WHERE a = 1", 44},
		"invalid UTF-8":               {"SELECT * FROM devices WHERE x = 'é\xff'", 35},
		"too long":                    {"SELECT * FROM devices WHERE x = '" + strings.Repeat("a", MaxLength) + "'", MaxLength + 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			q, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want a syntax error at column %d", tt.in, q, tt.column)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %v is a %T, want *SyntaxError", tt.in, err, err)
			}
			if se.Column != tt.column {
				t.Errorf("Parse(%q) error at column %d, want %d: %v", tt.in, se.Column, tt.column, err)
			}
		})
	}
}

// TestParseErrorMessages pins the errors that the reference documents or
// that name the fix.
func TestParseErrorMessages(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"expected expression": {"SELECT * FROM devices WHERE FROM", `query: column 29: unexpected "FROM", expected an expression`},
		"group keyword":       {"SELECT * FROM devices WHERE tags.group.name = 'a'", `query: column 34: "group" is a keyword: write [[group]] to use it as a property name`},
		"IN parentheses":      {"SELECT * FROM devices WHERE x IN ('a')", "query: column 34: IN and NIN take an array constant in square brackets, [...], not (...)"},
		"STARTS_WITH":         {"SELECT * FROM devices WHERE STARTS_WITH(deviceId, 'test')", "query: column 29: unknown function STARTS_WITH; twin queries spell it STARTSWITH"},
		"ORDER BY":            {"SELECT * FROM devices ORDER BY deviceId", "query: column 23: ORDER BY is not supported by IoT Hub queries"},
		"end of query":        {"SELECT * FROM devices WHERE (a", `query: column 31: unexpected end of query, expected ")"`},
		"long token":          {"SELECT * FROM devices WHERE a = 1 '" + strings.Repeat("x", 40) + "'", `query: column 35: unexpected "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...", expected AND, OR, GROUP BY or end of query`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want %q", tt.in, tt.want)
			}
			if d := cmp.Diff(tt.want, err.Error()); d != "" {
				t.Errorf("Parse(%q) error mismatch (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestParseCondition(t *testing.T) {
	q, err := ParseCondition(Devices, "tags.floor = 3 and deviceId in ['a']")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.String(), "SELECT * FROM devices WHERE tags.floor = 3 AND deviceId IN ['a']"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	q, err = ParseCondition(Modules, "devices.modules.moduleId = 'm'")
	if err != nil {
		t.Fatal(err)
	}
	if !q.Match(map[string]any{"deviceId": "d", "moduleId": "m"}) {
		t.Errorf("%s does not match module m", q)
	}

	var se *SyntaxError
	if _, err := ParseCondition(Devices, "tags.floor = = 3"); !errors.As(err, &se) || se.Column != 14 {
		t.Errorf("ParseCondition error = %v, want a syntax error at column 14", err)
	}
	if _, err := ParseCondition(Devices, "tags.floor = 3 GROUP BY x"); !errors.As(err, &se) || se.Column != 16 {
		t.Errorf("ParseCondition error = %v, want a syntax error at column 16", err)
	}
	if _, err := ParseCondition(Source(0), "a = 1"); err == nil {
		t.Error("ParseCondition with an unknown source succeeded")
	}
}

func TestSourceString(t *testing.T) {
	for s, want := range map[Source]string{Devices: "devices", Modules: "devices.modules", Jobs: "devices.jobs", Source(9): "Source(?)"} {
		if got := s.String(); got != want {
			t.Errorf("Source(%d).String() = %q, want %q", s, got, want)
		}
	}
}
