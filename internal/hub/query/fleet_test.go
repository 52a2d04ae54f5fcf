package query

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// fleet is testdata/fleet.json: device twins, module twins and device-job
// records as encoding/json decodes them.
type fleet struct {
	Devices []map[string]any `json:"devices"`
	Modules []map[string]any `json:"modules"`
	Jobs    []map[string]any `json:"jobs"`
}

func loadFleet(t testing.TB) *fleet {
	t.Helper()
	b, err := os.ReadFile("testdata/fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fleet
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decode testdata/fleet.json: %v", err)
	}
	return &f
}

func (f *fleet) docs(s Source) []map[string]any {
	switch s {
	case Modules:
		return f.Modules
	case Jobs:
		return f.Jobs
	}
	return f.Devices
}

// run parses and runs a query over the fleet.
func (f *fleet) run(t *testing.T, query string) (*Query, *Result) {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatalf("Parse(%q): %v", query, err)
	}
	res, err := q.Run(slices.Values(f.docs(q.From())))
	if err != nil {
		t.Fatalf("Run(%q): %v", query, err)
	}
	return q, res
}

// ids runs a SELECT * query and returns an ID per item: the device ID, with
// "/moduleId" for module twins and "/jobId" for job records.
func (f *fleet) ids(t *testing.T, query string) []string {
	t.Helper()
	q, res := f.run(t, query)
	if !q.IsSelectStar() {
		t.Fatalf("%q is not a SELECT * query", query)
	}
	ids := []string{}
	for _, it := range res.Items {
		doc := it.(map[string]any)
		id := doc["deviceId"].(string)
		switch q.From() {
		case Modules:
			id += "/" + doc["moduleId"].(string)
		case Jobs:
			id += "/" + doc["jobId"].(string)
		}
		ids = append(ids, id)
	}
	return ids
}
