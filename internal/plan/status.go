package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

// Convergence says how far the devices of one resource block have taken
// the desired properties iotplan wrote: a device is in sync when its
// reported properties hold every desired value iotplan owns, at the same
// path; offline when it is not and its connection state is not
// "Connected"; pending otherwise; missing when the hub no longer has it.
type Convergence struct {
	Block   string `json:"block"` // the address without its instance key
	Total   int    `json:"total"`
	InSync  int    `json:"in_sync"`
	Pending int    `json:"pending"`
	Offline int    `json:"offline"`
	Missing int    `json:"missing"`
	// Lagging lists the devices not in sync, by address.
	Lagging []Lag `json:"lagging,omitempty"`
}

// Lag is one device not in sync, and why.
type Lag struct {
	Addr   string `json:"address"`
	ID     string `json:"id"`    // device ID, or deviceID/moduleID
	State  string `json:"state"` // pending, offline or missing
	Reason string `json:"reason"`
}

// Converged reports whether every device of every block is in sync.
func Converged(cs []Convergence) bool {
	for _, c := range cs {
		if c.InSync != c.Total {
			return false
		}
	}
	return true
}

// FleetConvergence measures the convergence of the devices and modules of
// st against the twins a refresh read, block by block in address order.
func FleetConvergence(st *state.State, a *Actual) []Convergence {
	byBlock := map[string]*Convergence{}
	for _, addr := range st.Addresses() {
		r := st.Resources[addr]
		if r.Type != state.TypeDevice && r.Type != state.TypeModule {
			continue
		}
		block, _, _ := strings.Cut(addr, "[")
		c := byBlock[block]
		if c == nil {
			c = &Convergence{Block: block}
			byBlock[block] = c
		}
		c.Total++
		lag := lagOf(r, a.Lookup(r))
		if lag == nil {
			c.InSync++
			continue
		}
		lag.Addr, lag.ID = addr, r.HubID()
		switch lag.State {
		case "missing":
			c.Missing++
		case "offline":
			c.Offline++
		default:
			c.Pending++
		}
		c.Lagging = append(c.Lagging, *lag)
	}
	out := make([]Convergence, 0, len(byBlock))
	for _, c := range byBlock {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Block < out[j].Block })
	return out
}

// lagOf returns why a twin has not taken r's desired values, or nil when it
// has.
func lagOf(r *state.Resource, t *hub.Twin) *Lag {
	if t == nil {
		return &Lag{State: "missing", Reason: "not on the hub"}
	}
	reported := t.Properties.Reported.Properties()
	owned := leaves(r.Desired)
	paths := make([]string, 0, len(owned))
	for path := range owned {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		want := owned[path]
		got, ok := lookup(reported, path)
		if ok && sameValue(got, want) {
			continue
		}
		sensitive := isSensitive(r, "desired."+path)
		reason := "has not reported " + path
		if ok {
			reason = fmt.Sprintf("reported %s = %s, desired %s", path, shown(got, sensitive), shown(want, sensitive))
		}
		if t.ConnectionState != "Connected" {
			return &Lag{State: "offline", Reason: "disconnected; " + reason}
		}
		return &Lag{State: "pending", Reason: reason}
	}
	return nil
}

// sameValue compares JSON values, numbers by value whatever their Go type.
func sameValue(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func shown(v any, sensitive bool) string {
	if sensitive {
		return "(sensitive)"
	}
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(j)
}
