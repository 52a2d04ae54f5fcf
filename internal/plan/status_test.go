package plan

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

func TestFleetConvergence(t *testing.T) {
	st := state.New()
	add := func(addr, id, module string, desired map[string]any, sensitive ...string) {
		typ := state.TypeDevice
		if module != "" {
			typ = state.TypeModule
		}
		st.Resources[addr] = &state.Resource{Addr: addr, Type: typ, DeviceID: id, ModuleID: module, Desired: desired, Sensitive: sensitive}
	}
	want := map[string]any{"interval": 30.0, "fw": map[string]any{"version": "2.0"}}
	add(`device.t["a"]`, "t-a", "", want)
	add(`device.t["b"]`, "t-b", "", want)
	add(`device.t["c"]`, "t-c", "", want)
	add(`device.t["d"]`, "t-d", "", want)
	add(`device.gw`, "gw", "", nil)
	add(`device_module.agent`, "gw", "agent", map[string]any{"token": "s3cret"}, "desired.token")
	st.Resources["job.reboot"] = &state.Resource{Addr: "job.reboot", Type: state.TypeJob, ObjectID: "j1"}

	twin := func(conn string, reported map[string]any) *hub.Twin {
		return &hub.Twin{ConnectionState: conn, Properties: hub.TwinProperties{Reported: reported}}
	}
	a := &Actual{
		Devices: map[string]*hub.Twin{
			// In sync: numbers compare by value, "$" members are ignored.
			"t-a": twin("Connected", map[string]any{"interval": 30, "fw": map[string]any{"version": "2.0"}, "$version": 4.0}),
			// Connected, one value behind.
			"t-b": twin("Connected", map[string]any{"interval": 10.0, "fw": map[string]any{"version": "2.0"}}),
			// Disconnected, nothing reported.
			"t-c": twin("Disconnected", nil),
			// t-d is missing. A device that owns no desired value is in sync.
			"gw": twin("Disconnected", nil),
		},
		Modules: map[string]*hub.Twin{
			"gw/agent": twin("Connected", map[string]any{"token": "old"}),
		},
	}
	got := FleetConvergence(st, a)
	wantC := []Convergence{
		{Block: "device.gw", Total: 1, InSync: 1},
		{Block: "device.t", Total: 4, InSync: 1, Pending: 1, Offline: 1, Missing: 1, Lagging: []Lag{
			{Addr: `device.t["b"]`, ID: "t-b", State: "pending", Reason: "reported interval = 10, desired 30"},
			{Addr: `device.t["c"]`, ID: "t-c", State: "offline", Reason: "disconnected; has not reported fw.version"},
			{Addr: `device.t["d"]`, ID: "t-d", State: "missing", Reason: "not on the hub"},
		}},
		{Block: "device_module.agent", Total: 1, Pending: 1, Lagging: []Lag{
			{Addr: "device_module.agent", ID: "gw/agent", State: "pending", Reason: "reported token = (sensitive), desired (sensitive)"},
		}},
	}
	if d := cmp.Diff(wantC, got); d != "" {
		t.Errorf("FleetConvergence (-want +got):\n%s", d)
	}
	if Converged(got) {
		t.Error("Converged = true")
	}
	if !Converged(got[:1]) {
		t.Error("Converged of an in-sync block = false")
	}
}
