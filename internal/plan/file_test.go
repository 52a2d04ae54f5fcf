package plan

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

func TestPlanFileRoundTrip(t *testing.T) {
	prior := &state.State{Lineage: "lin", Serial: 7, Resources: map[string]*state.Resource{
		`device.d["a"]`: res("a", "dev-a", obj{"site": "berlin"}, obj{"x": obj{"y": 1.0}}),
		`device.d["b"]`: res("b", "dev-b", nil, nil),
	}}
	actual := &Actual{Devices: map[string]*hub.Twin{
		"dev-a": twin("dev-a", obj{"site": "paris"}, obj{"x": obj{"y": 1.0}}),
		"dev-b": twin("dev-b", nil, nil),
	}}
	cfg := &config.Config{Devices: []*config.Device{
		dev("a", "dev-a", obj{"site": "berlin"}, obj{"x": obj{"y": 2.0}}),
		dev("c", "dev-c", obj{"n": []any{1.0, "two"}}, nil),
	}}
	p, diags := Diff(cfg, prior, actual, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var buf bytes.Buffer
	if err := WriteFile(&buf, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "secret") {
		t.Fatalf("plan file holds a key:\n%s", buf.String())
	}
	got, err := ReadFile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(p, got); d != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", d)
	}
}

func TestReadFileRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"not json":       "device \"x\" {}",
		"state file":     `{"format_version":1,"serial":1,"lineage":"x","resources":[]}`,
		"future version": `{"plan_format_version":99}`,
		"bad action":     `{"plan_format_version":1,"lineage":"l","serial":1,"changes":[{"address":"device.a","type":"device","action":"explode"}]}`,
		"missing after":  `{"plan_format_version":1,"lineage":"l","serial":1,"changes":[{"address":"device.a","type":"device","action":"create"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadFile(strings.NewReader(in)); err == nil {
				t.Fatal("ReadFile() succeeded, want an error")
			} else if name == "not json" && !errors.Is(err, ErrNotPlanFile) {
				t.Errorf("ReadFile() = %v, want ErrNotPlanFile", err)
			}
		})
	}
}

func FuzzReadFile(f *testing.F) {
	f.Add(`{"plan_format_version":1,"lineage":"l","serial":1,"changes":[]}`)
	f.Add(`{"plan_format_version":1,"lineage":"l","serial":1,"changes":[{"address":"device.a","type":"device","action":"delete","before":{"address":"device.a","type":"device","device_id":"a","status":"enabled","auth":"sas"}}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ReadFile(strings.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteFile(&buf, p); err != nil {
			t.Fatalf("WriteFile() after a successful read: %v", err)
		}
		if _, err := ReadFile(&buf); err != nil {
			t.Fatalf("a written plan does not read back: %v", err)
		}
	})
}
