package render

import (
	"fmt"
	"io"
	"testing"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

// plan100k is a fleet-wide change: 99,000 sensors whose telemetry interval
// goes from 10 to 30, each with its own unchanged and foreign keys, and
// 1,000 that each go to a value of their own.
func plan100k() *plan.Plan {
	p := &plan.Plan{Unchanged: 5000}
	for i := range 100_000 {
		addr := fmt.Sprintf("device.sensor[%q]", fmt.Sprintf("s-%06d", i))
		r := &state.Resource{Addr: addr, Type: "device", DeviceID: fmt.Sprintf("sensor-%06d", i), Status: hub.StatusEnabled,
			Auth: hub.AuthSAS, Tags: map[string]any{"site": "berlin"}, Desired: map[string]any{"telemetryInterval": 30.0}}
		after := 30.0
		if i%100 == 0 {
			after = float64(i)
		}
		p.Changes = append(p.Changes, &plan.Change{Addr: addr, Type: "device", Action: plan.Update, Before: r, After: r,
			Attrs: []plan.AttrChange{{Path: "desired.telemetryInterval", Op: plan.OpUpdate, Before: 10.0, After: after}},
			Owned: 1, Foreign: i % 3})
	}
	return p
}

func BenchmarkHuman100k(b *testing.B) {
	p := plan100k()
	b.ReportAllocs()
	for b.Loop() {
		if err := Human(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHuman100kNoGroup(b *testing.B) {
	p := plan100k()
	b.ReportAllocs()
	for b.Loop() {
		if err := HumanWith(io.Discard, p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarkdown100k(b *testing.B) {
	p := plan100k()
	b.ReportAllocs()
	for b.Loop() {
		if err := Markdown(io.Discard, p, Options{Group: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSON100k(b *testing.B) {
	p := plan100k()
	b.ReportAllocs()
	for b.Loop() {
		if err := JSON(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}
