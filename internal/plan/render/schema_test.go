package render

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const (
	schemaPath = "../../../docs/plan.schema.json"
	formatDoc  = "../../../docs/json-format.md"
)

// planSchema compiles docs/plan.schema.json.
func planSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("plan.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("plan.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, js []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return s.Validate(v)
}

// TestSchemaGoldens checks every golden plan.json, and the JSON of every
// case (those without a golden too), against the schema.
func TestSchemaGoldens(t *testing.T) {
	s := planSchema(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*", "plan.json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(cases)-1 {
		t.Fatalf("found %d golden plan.json files for %d cases", len(files), len(cases))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			js, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(t, s, js); err != nil {
				t.Errorf("%s does not match docs/plan.schema.json:\n%v", f, err)
			}
		})
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var js bytes.Buffer
			if err := JSON(&js, tc.diff(t)); err != nil {
				t.Fatal(err)
			}
			if err := validate(t, s, js.Bytes()); err != nil {
				t.Errorf("JSON of %s does not match docs/plan.schema.json:\n%v", name, err)
			}
		})
	}
}

// TestSchemaRejects makes sure the schema is strict: each edit of a valid
// plan breaks a rule that JSON keeps.
func TestSchemaRejects(t *testing.T) {
	s := planSchema(t)
	base, err := os.ReadFile(filepath.Join("testdata", "review", "plan.json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	type doc = map[string]any
	change := func(d doc, addr string) doc {
		for _, c := range d["resource_changes"].([]any) {
			if c.(doc)["address"] == addr {
				return c.(doc)
			}
		}
		t.Fatalf("no change of %s", addr)
		return nil
	}
	tests := map[string]func(d doc){
		"unknown top-level field": func(d doc) { d["applyable"] = true },
		"older format version":    func(d doc) { d["format_version"] = "1.0" },
		"summary field missing":   func(d doc) { delete(d["summary"].(doc), "drift") },
		"unknown action":          func(d doc) { change(d, "device.gw")["action"] = "modify" },
		"delete with after":       func(d doc) { c := change(d, `device.thermo["retired"]`); c["after"] = c["before"] },
		"create without after":    func(d doc) { change(d, `device.thermo["a|b"]`)["after"] = nil },
		"module without module_id": func(d doc) {
			delete(change(d, "device_module.agent"), "module_id")
		},
		"device with module_id": func(d doc) { change(d, "device.gw")["module_id"] = "x" },
		"import without id":     func(d doc) { delete(change(d, `device.thermo["adopted"]`), "import_id") },
		"sensitive value shown": func(d doc) {
			attrs := change(d, "device.gw")["attribute_changes"].([]any)
			attrs[2].(doc)["after"] = "s3cr3t"
		},
		"prior without drift": func(d doc) {
			attrs := change(d, "device.thermo[\"adopted\"]")["attribute_changes"].([]any)
			attrs[0].(doc)["prior"] = "x"
		},
		"bad address":        func(d doc) { change(d, "device.gw")["address"] = "thing.gw" },
		"unknown auth":       func(d doc) { change(d, "device.gw")["after"].(doc)["auth"] = "password" },
		"key in a resource":  func(d doc) { change(d, "device.gw")["after"].(doc)["primary_key"] = "k" },
		"negative count":     func(d doc) { d["summary"].(doc)["add"] = -1 },
		"no-op without move": func(d doc) { delete(change(d, `device.thermo["new"]`), "moved_from") },
	}
	if err := validate(t, s, base); err != nil {
		t.Fatalf("the base document is not valid: %v", err)
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			var d doc
			if err := json.Unmarshal(base, &d); err != nil {
				t.Fatal(err)
			}
			edit(d)
			js, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(t, s, js); err == nil {
				t.Error("the schema accepts it")
			}
		})
	}
}

// TestSchemaVersion keeps the schema, the documentation and FormatVersion
// in step.
func TestSchemaVersion(t *testing.T) {
	var schema struct {
		Properties struct {
			FormatVersion struct {
				Const string `json:"const"`
			} `json:"format_version"`
		} `json:"properties"`
	}
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Properties.FormatVersion.Const; got != FormatVersion {
		t.Errorf("docs/plan.schema.json describes format %q, JSON writes %q", got, FormatVersion)
	}
	doc, err := os.ReadFile(formatDoc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(`"format_version": "`+FormatVersion+`"`)) {
		t.Errorf("docs/json-format.md does not show format_version %q", FormatVersion)
	}
}

// TestFormatDocumented checks that docs/json-format.md documents every
// field the schema has.
func TestFormatDocumented(t *testing.T) {
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(formatDoc)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllSubmatch(doc, -1) {
		documented[string(m[1])] = true
	}
	var missing []string
	for _, name := range propertyNames(schema) {
		if !documented[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("docs/json-format.md has no table row for %s", strings.Join(missing, ", "))
	}
}

// propertyNames lists the names under every "properties" of a schema.
func propertyNames(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for name, sub := range props {
					if _, isSchema := sub.(map[string]any); isSchema || sub == true {
						out = append(out, name)
					}
				}
			}
			for _, sub := range v {
				walk(sub)
			}
		case []any:
			for _, sub := range v {
				walk(sub)
			}
		}
	}
	walk(v)
	slices.Sort(out)
	return slices.Compact(out)
}

// TestJSONIsOneDocument checks that JSON, which writes a change at a time,
// writes what encoding/json writes for the whole document at once.
func TestJSONIsOneDocument(t *testing.T) {
	type document struct {
		jsonPlan
		ResourceChanges []jsonChange `json:"resource_changes"`
		Summary         jsonSummary  `json:"summary"`
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			if err := JSON(&got, tc.diff(t)); err != nil {
				t.Fatal(err)
			}
			var d document
			if err := json.Unmarshal(got.Bytes(), &d); err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(d); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("JSON differs from the document encoded at once:\n%s", cmp.Diff(want.String(), got.String()))
			}
		})
	}
}

// TestDocExample checks the example of docs/json-format.md against the
// schema.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile(formatDoc)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/json-format.md has no JSON example")
	}
	if err := validate(t, planSchema(t), m[1]); err != nil {
		t.Errorf("the example of docs/json-format.md does not match the schema:\n%v", err)
	}
}
