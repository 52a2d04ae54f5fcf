package config

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFunctions(t *testing.T) {
	tests := map[string]struct {
		expr string
		want any
	}{
		"format":          {`format("%s-%03d", "a", 7)`, "a-007"},
		"formatlist":      {`formatlist("x-%s", ["a", "b"])`, []any{"x-a", "x-b"}},
		"join split":      {`join(",", split("-", "a-b"))`, "a,b"},
		"lower upper":     {`"${lower("AB")}${upper("cd")}"`, "abCD"},
		"title":           {`title("hello world")`, "Hello World"},
		"trims":           {`[trim("xax", "x"), trimprefix("ab", "a"), trimsuffix("ab", "b"), trimspace(" c ")]`, []any{"a", "b", "a", "c"}},
		"replace":         {`replace("a-b-c", "-", "_")`, "a_b_c"},
		"replace regex":   {`replace("a1b22", "/[0-9]+/", "#")`, "a#b#"},
		"regex":           {`regex("[a-z]+", "123abc")`, "abc"},
		"regexall":        {`length(regexall("a", "banana"))`, 3.0},
		"substr strrev":   {`strrev(substr("hello", 1, 3))`, "lle"},
		"chomp indent":    {`indent(2, chomp("a\nb\n"))`, "a\n  b"},
		"length string":   {`length("héllo")`, 5.0},
		"length list":     {`length([1, 2])`, 2.0},
		"length object":   {`length({ a = 1 })`, 1.0},
		"concat":          {`concat([1], [2])`, []any{1.0, 2.0}},
		"contains":        {`contains(["a"], "a")`, true},
		"distinct":        {`distinct([1, 1, 2])`, []any{1.0, 2.0}},
		"element":         {`element(["a", "b"], 3)`, "b"},
		"flatten":         {`flatten([[1], [2, [3]]])`, []any{1.0, 2.0, 3.0}},
		"index":           {`index(["a", "b"], "b")`, 1.0},
		"keys values":     {`concat(keys({ a = 1 }), values({ b = "x" }))`, []any{"a", "x"}},
		"lookup":          {`lookup({ a = "x" }, "b", "dflt")`, "dflt"},
		"merge":           {`merge({ a = 1 }, { b = 2 })`, map[string]any{"a": 1.0, "b": 2.0}},
		"range reverse":   {`reverse(range(3))`, []any{2.0, 1.0, 0.0}},
		"sets":            {`[setintersection(["a", "b"], ["b"]), setsubtract(["a", "b"], ["b"]), setunion(["a"], ["b"])]`, []any{[]any{"b"}, []any{"a"}, []any{"a", "b"}}},
		"setproduct":      {`length(setproduct(["a", "b"], ["c"]))`, 2.0},
		"slice sort":      {`slice(sort(["c", "a", "b"]), 0, 2)`, []any{"a", "b"}},
		"zipmap":          {`zipmap(["a"], [1])`, map[string]any{"a": 1.0}},
		"coalesce":        {`[coalesce(null, "b"), coalescelist([], ["c"])[0]]`, []any{"b", "c"}},
		"compact":         {`compact(["a", "", "b"])`, []any{"a", "b"}},
		"chunklist":       {`chunklist([1, 2, 3], 2)`, []any{[]any{1.0, 2.0}, []any{3.0}}},
		"numbers":         {`[abs(-1), ceil(1.2), floor(1.8), log(8, 2), max(1, 3), min(1, 3), parseint("ff", 16), pow(2, 3), signum(-4)]`, []any{1.0, 2.0, 1.0, 3.0, 3.0, 1.0, 255.0, 8.0, -1.0}},
		"json":            {`jsondecode(jsonencode({ a = [1] }))`, map[string]any{"a": []any{1.0}}},
		"base64":          {`base64decode(base64encode("héllo"))`, "héllo"},
		"csvdecode file":  {`csvdecode(file("fleet.csv"))[1].room`, "south"},
		"fileexists":      {`[fileexists("fleet.csv"), fileexists("nope"), fileexists("./fleet.csv")]`, []any{true, false, true}},
		"conversions":     {`[tostring(1), tonumber("2"), tobool("true")]`, []any{"1", 2.0, true}},
		"tolist toset":    {`concat(tolist(toset(["a", "a"])), tolist(["b"]))`, []any{"a", "b"}},
		"tomap":           {`tomap({ a = "x" })`, map[string]any{"a": "x"}},
		"can try":         {`[can(tonumber("x")), try(tonumber("x"), 5)]`, []any{false, 5.0}},
		"null list items": {`[1, null]`, []any{1.0, nil}},

		"startswith endswith strcontains": {`[startswith("thermo-1", "thermo"), endswith("thermo-1", "-2"), strcontains("thermo", "erm")]`, []any{true, false, true}},
		"urlencode":                       {`urlencode("a b&c")`, "a+b%26c"},
		"alltrue anytrue":                 {`[alltrue([true, true]), alltrue([]), anytrue([false, true]), anytrue([])]`, []any{true, true, true, false}},
		"one":                             {`[one(["a"]), one([]) == null]`, []any{"a", true}},
		"sum":                             {`sum([1, 2.5, 3])`, 6.5},
		"transpose":                       {`transpose({ a = ["x", "y"], b = ["x"] })`, map[string]any{"x": []any{"a", "b"}, "y": []any{"a"}}},
		"matchkeys":                       {`matchkeys(["i-1", "i-2", "i-3"], ["eu", "us", "eu"], ["eu"])`, []any{"i-1", "i-3"}},
		"yaml":                            {`yamldecode(yamlencode({ a = [1, "x"] }))`, map[string]any{"a": []any{1.0, "x"}}},
		"yamldecode":                      {`yamldecode("site: berlin\nfloors: [1, 2]\n")`, map[string]any{"site": "berlin", "floors": []any{1.0, 2.0}}},
		"jsonencode":                      {`jsonencode({ b = 1, a = [true] })`, `{"a":[true],"b":1}`},
		"hashes":                          {`[md5("a"), sha1("a"), substr(sha256("a"), 0, 8), substr(sha512("a"), 0, 8), base64sha256("a")]`, []any{"0cc175b9c0f1b6a831c399e269772661", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8", "ca978112", "1f40fc92", "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="}},
		"uuidv5":                          {`[uuidv5("dns", "www.example.com"), uuidv5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "x")]`, []any{"2ed6657d-e927-568b-95e1-2665a8aea6a2", "4cd605e7-afa2-5360-b5b9-c5e9fb5c76f4"}},
		"formatdate timeadd timecmp":      {`[formatdate("YYYY-MM-DD", timeadd("2026-12-01T02:00:00Z", "24h")), timecmp("2026-01-01T00:00:00Z", "2025-01-01T00:00:00Z")]`, []any{"2026-12-02", 1.0}},
		"sensitive functions":             {`[issensitive(sensitive("x")), issensitive("x"), nonsensitive(sensitive("y"))]`, []any{true, false, "y"}},
		"env":                             {`[env("SITE"), env("NOPE", "dflt")]`, []any{"berlin", "dflt"}},
		"basename dirname":                {`[basename("certs/gw.pem"), dirname("certs/gw.pem")]`, []any{"gw.pem", "certs"}},
		"filebase64":                      {`filebase64("certs/gw.pem")`, "LS0tLS0="},
		"fileset":                         {`sort(tolist(fileset(".", "**/*.pem")))`, []any{"certs/gw.pem", "certs/old/leaf.pem"}},
		"fileset in a folder":             {`tolist(fileset("certs", "*.pem"))`, []any{"gw.pem"}},
		"templatefile":                    {`templatefile("motd.tftpl", { site = "berlin", floors = [1, 2] })`, "berlin: 1,2 BERLIN"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			fsys := folder(map[string]string{
				"main.hcl":           "device \"d\" {\n  device_id = \"d\"\n  desired = { v = " + tt.expr + " }\n}\n",
				"fleet.csv":          fleetCSV,
				"certs/gw.pem":       "-----",
				"certs/old/leaf.pem": "-----",
				"motd.tftpl":         `${site}: ${join(",", floors)} ${upper(site)}`,
			})
			cfg, diags := NewLoader(fsys).LoadWith(LoadOptions{Env: map[string]string{"SITE": "berlin"}})
			if diags.HasErrors() {
				t.Fatalf("Load() diagnostics: %v", diags)
			}
			if d := cmp.Diff(tt.want, cfg.Devices[0].Desired["v"]); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tt.expr, d)
			}
		})
	}
}

// TestFunctionNames keeps the function table to the documented list.
func TestFunctionNames(t *testing.T) {
	want := []string{
		"abs", "alltrue", "anytrue", "base64decode", "base64encode", "base64sha256", "base64sha512", "basename",
		"can", "ceil", "chomp", "chunklist", "coalesce", "coalescelist", "compact", "concat", "contains",
		"csvdecode", "dirname", "distinct", "element", "endswith", "env", "file", "filebase64", "fileexists",
		"fileset", "flatten", "floor", "format", "formatdate", "formatlist", "indent", "index", "issensitive",
		"join", "jsondecode", "jsonencode", "keys", "length", "log", "lookup", "lower", "matchkeys", "max", "md5",
		"merge", "min", "nonsensitive", "one", "parseint", "pow", "range", "regex", "regexall", "replace",
		"reverse", "sensitive", "setintersection", "setproduct", "setsubtract", "setunion", "sha1", "sha256",
		"sha512", "signum", "slice", "sort", "split", "startswith", "strcontains", "strrev", "substr", "sum",
		"templatefile", "timeadd", "timecmp", "title", "tobool", "tolist", "tomap", "tonumber", "toset",
		"tostring", "transpose", "trim", "trimprefix", "trimspace", "trimsuffix", "try", "upper", "urlencode",
		"uuidv5", "values", "yamldecode", "yamlencode", "zipmap",
	}
	var got []string
	for name := range functions(folder(nil), nil) {
		got = append(got, name)
	}
	sort.Strings(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("function names mismatch (-want +got):\n%s", d)
	}
}

// TestFunctionsDocumented keeps docs/language.md listing every function.
func TestFunctionsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range functions(folder(nil), nil) {
		if !strings.Contains(string(doc), "`"+name+"`") && !strings.Contains(string(doc), "`"+name+"(") {
			t.Errorf("docs/language.md does not document %s", name)
		}
	}
}
