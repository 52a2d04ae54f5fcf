package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

// update is an Update of block[i] that sets the telemetry interval from
// 10 to after.
func updateOf(block string, i int, after any) *plan.Change {
	addr := fmt.Sprintf("%s[%d]", block, i)
	r := &state.Resource{Addr: addr, Type: "device", DeviceID: fmt.Sprintf("%s-%d", strings.TrimPrefix(block, "device."), i),
		Status: hub.StatusEnabled, Auth: hub.AuthSAS}
	return &plan.Change{Addr: addr, Type: "device", Action: plan.Update, Before: r, After: r,
		Attrs: []plan.AttrChange{{Path: "desired.telemetryInterval", Op: plan.OpUpdate, Before: 10.0, After: after}}}
}

func updates(block string, n int) []*plan.Change {
	var out []*plan.Change
	for i := range n {
		out = append(out, updateOf(block, i, 30.0))
	}
	return out
}

func edit(c *plan.Change, f func(c *plan.Change)) *plan.Change {
	f(c)
	return c
}

func createOf(block string, i int, tags map[string]any) *plan.Change {
	addr := fmt.Sprintf("%s[%d]", block, i)
	r := &state.Resource{Addr: addr, Type: "device", DeviceID: fmt.Sprintf("t-%d", i), Status: hub.StatusEnabled, Auth: hub.AuthSAS, Tags: tags}
	return &plan.Change{Addr: addr, Type: "device", Action: plan.Create, After: r,
		Attrs: []plan.AttrChange{{Path: "status", Op: plan.OpSet, After: "enabled"}}}
}

func deleteOf(block string, i int, gone bool) *plan.Change {
	addr := fmt.Sprintf("%s[%d]", block, i)
	r := &state.Resource{Addr: addr, Type: "device", DeviceID: fmt.Sprintf("v-%d", i), Status: hub.StatusEnabled, Auth: hub.AuthSAS}
	return &plan.Change{Addr: addr, Type: "device", Action: plan.Delete, Before: r, Gone: gone}
}

func moveOf(from, to string, i int) *plan.Change {
	c := updateOf(to, i, 30.0)
	c.Action, c.Attrs, c.MovedFrom = plan.NoOp, nil, fmt.Sprintf("%s[%d]", from, i)
	return c
}

func concat(parts ...[]*plan.Change) []*plan.Change {
	var out []*plan.Change
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// describe names each entry: its address, or "N × block[*]" for a group.
func describe(es []*entry) []string {
	var out []string
	for _, e := range es {
		if e.grouped() {
			out = append(out, fmt.Sprintf("%d × %s", len(e.members), groupAddr(e.change().Addr)))
		} else {
			out = append(out, e.change().Addr)
		}
	}
	return out
}

func TestEntries(t *testing.T) {
	on := Options{Group: true}
	tests := map[string]struct {
		changes []*plan.Change
		opts    Options
		want    []string
	}{
		"four equal updates group": {changes: updates("device.s", 4), opts: on, want: []string{"4 × device.s[*]"}},
		"three stay apart":         {changes: updates("device.s", 3), opts: on, want: []string{"device.s[0]", "device.s[1]", "device.s[2]"}},
		"GroupMin 1 groups two":    {changes: updates("device.s", 2), opts: Options{Group: true, GroupMin: 1}, want: []string{"2 × device.s[*]"}},
		"GroupMin 4 keeps four":    {changes: updates("device.s", 4), opts: Options{Group: true, GroupMin: 4}, want: []string{"device.s[0]", "device.s[1]", "device.s[2]", "device.s[3]"}},
		"grouping off":             {changes: updates("device.s", 4), opts: Options{}, want: []string{"device.s[0]", "device.s[1]", "device.s[2]", "device.s[3]"}},
		"a different value stays apart": {
			changes: concat(updates("device.s", 4), []*plan.Change{updateOf("device.s", 4, 60.0)}), opts: on,
			want: []string{"4 × device.s[*]", "device.s[4]"},
		},
		"a value of another type stays apart": {
			changes: concat(updates("device.s", 4), []*plan.Change{updateOf("device.s", 4, "30")}), opts: on,
			want: []string{"4 × device.s[*]", "device.s[4]"},
		},
		"drift stays apart": {
			changes: concat(updates("device.s", 4), []*plan.Change{edit(updateOf("device.s", 4, 30.0), func(c *plan.Change) {
				c.Attrs[0].Drift, c.Attrs[0].Prior = true, 10.0
			})}), opts: on,
			want: []string{"4 × device.s[*]", "device.s[4]"},
		},
		"another attribute stays apart": {
			changes: concat(updates("device.s", 4), []*plan.Change{edit(updateOf("device.s", 4, 30.0), func(c *plan.Change) {
				c.Attrs = append(c.Attrs, plan.AttrChange{Path: "tags.site", Op: plan.OpSet, After: "oslo"})
			})}), opts: on,
			want: []string{"4 × device.s[*]", "device.s[4]"},
		},
		"another op stays apart": {
			changes: concat(updates("device.s", 4), []*plan.Change{edit(updateOf("device.s", 4, 30.0), func(c *plan.Change) {
				c.Attrs[0].Op, c.Attrs[0].Before = plan.OpSet, nil
			})}), opts: on,
			want: []string{"4 × device.s[*]", "device.s[4]"},
		},
		"each block groups on its own": {
			changes: concat(updates("device.a", 4), updates("device.b", 4)), opts: on,
			want: []string{"4 × device.a[*]", "4 × device.b[*]"},
		},
		"a group stands where its first member is": {
			changes: concat(updates("device.a", 1), updates("device.b", 1), updates("device.a", 5)[1:]), opts: on,
			want: []string{"5 × device.a[*]", "device.b[0]"},
		},
		"secrets are not compared": {
			changes: func() []*plan.Change {
				cs := updates("device.s", 4)
				for i, c := range cs {
					c.Attrs[0] = plan.AttrChange{Path: "auth.primary_key", Op: plan.OpUpdate, Before: "x", After: fmt.Sprint(i), Sensitive: true}
				}
				return cs
			}(), opts: on,
			want: []string{"4 × device.s[*]"},
		},
		"unchanged and foreign counts are not compared": {
			changes: func() []*plan.Change {
				cs := updates("device.s", 4)
				for i, c := range cs {
					c.Owned, c.Foreign = i, 2*i
				}
				return cs
			}(), opts: on,
			want: []string{"4 × device.s[*]"},
		},
		"imports never group": {
			changes: func() []*plan.Change {
				cs := updates("device.s", 4)
				for _, c := range cs {
					c.Importing, c.ImportID = true, c.After.DeviceID
				}
				return cs
			}(), opts: on,
			want: []string{"device.s[0]", "device.s[1]", "device.s[2]", "device.s[3]"},
		},
		"moves that also change never group": {
			changes: func() []*plan.Change {
				cs := updates("device.s", 4)
				for i, c := range cs {
					c.MovedFrom = fmt.Sprintf("device.old[%d]", i)
				}
				return cs
			}(), opts: on,
			want: []string{"device.s[0]", "device.s[1]", "device.s[2]", "device.s[3]"},
		},
		"replacements never group": {
			changes: func() []*plan.Change {
				cs := updates("device.s", 4)
				for _, c := range cs {
					c.Action = plan.Replace
				}
				return cs
			}(), opts: on,
			want: []string{"device.s[0]", "device.s[1]", "device.s[2]", "device.s[3]"},
		},
		"creates group": {
			changes: []*plan.Change{createOf("device.t", 0, nil), createOf("device.t", 1, nil), createOf("device.t", 2, nil), createOf("device.t", 3, nil)}, opts: on,
			want: []string{"4 × device.t[*]"},
		},
		"creates with other tags stay apart": {
			changes: []*plan.Change{createOf("device.t", 0, nil), createOf("device.t", 1, nil), createOf("device.t", 2, nil),
				createOf("device.t", 3, map[string]any{"site": "oslo"})}, opts: on,
			want: []string{"device.t[0]", "device.t[1]", "device.t[2]", "device.t[3]"},
		},
		"deletes group, gone ones apart": {
			changes: []*plan.Change{deleteOf("device.v", 0, false), deleteOf("device.v", 1, false), deleteOf("device.v", 2, false),
				deleteOf("device.v", 3, false), deleteOf("device.v", 4, true), deleteOf("device.v", 5, true), deleteOf("device.v", 6, true),
				deleteOf("device.v", 7, true)}, opts: on,
			want: []string{"4 × device.v[*]", "4 × device.v[*]"},
		},
		"a renamed block groups": {
			changes: []*plan.Change{moveOf("device.old", "device.new", 0), moveOf("device.old", "device.new", 1), moveOf("device.old", "device.new", 2),
				moveOf("device.old", "device.new", 3)}, opts: on,
			want: []string{"4 × device.new[*]"},
		},
		"moves to other keys stay apart": {
			changes: func() []*plan.Change {
				cs := []*plan.Change{moveOf("device.old", "device.new", 0), moveOf("device.old", "device.new", 1), moveOf("device.old", "device.new", 2),
					moveOf("device.old", "device.new", 3)}
				for _, c := range cs {
					c.MovedFrom += "x"
				}
				return cs
			}(), opts: on,
			want: []string{"device.new[0]", "device.new[1]", "device.new[2]", "device.new[3]"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := describe(entries(tt.changes, tt.opts))
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("entries mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestHumanGroupLines(t *testing.T) {
	p := &plan.Plan{Changes: concat(updates("device.sensor", 12), []*plan.Change{updateOf("device.sensor", 12, 60.0)})}
	tests := map[string]struct {
		opts       Options
		want, none []string
	}{
		"grouped": {
			opts: Options{Group: true},
			want: []string{
				"  # 12 × device.sensor[*] will be updated in place, all the same way\n" +
					"  ~ device \"sensor-0\" … \"sensor-11\" {\n" +
					"      ~ desired.telemetryInterval = 10 -> 30\n" +
					"    }\n" +
					"    # device.sensor[0], device.sensor[1], device.sensor[2] and 9 more (-no-group to list them)\n",
				"  # device.sensor[12] will be updated in place\n",
				"Plan: 0 to add, 13 to change, 0 to destroy.",
			},
		},
		"listed": {
			opts: Options{},
			want: []string{"  # device.sensor[11] will be updated in place\n", "Plan: 0 to add, 13 to change, 0 to destroy."},
			none: []string{"×", "-no-group"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HumanWith(&b, p, tt.opts); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.want {
				if !strings.Contains(b.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, b.String())
				}
			}
			for _, s := range tt.none {
				if strings.Contains(b.String(), s) {
					t.Errorf("output has %q:\n%s", s, b.String())
				}
			}
		})
	}
}

// TestGroupedCaseListed checks the large golden case without grouping:
// every change is listed, in the human and the Markdown output.
func TestGroupedCaseListed(t *testing.T) {
	p := cases["grouped"].diff(t)
	var human, md bytes.Buffer
	if err := HumanWith(&human, p, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&md, p, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(human.String(), "  # device.sensor["); got != 1002 {
		t.Errorf("human output lists %d sensors, want 1002", got)
	}
	// A row per sensor, and one for the drifted sensor.
	if got := strings.Count(md.String(), "\n| `device.sensor["); got != 1003 {
		t.Errorf("Markdown output has %d sensor rows, want 1003", got)
	}
	if strings.Contains(human.String(), "×") || strings.Contains(md.String(), "×") {
		t.Error("output groups changes with grouping off")
	}
}

func TestNaturalLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"s-2", "s-10", true},
		{"s-10", "s-2", false},
		{"s-02", "s-2", true}, // equal as numbers: byte order
		{"s-2", "s-02", false},
		{"a", "b", true},
		{"a", "a", false},
		{"a", "a1", true},
		{"device.sensor[9]", "device.sensor[10]", true},
		{`device.t["n-9"]`, `device.t["n-10"]`, true},
		{"x99999999999999999999999", "x100000000000000000000000", true},
	} {
		if got := naturalLess(tt.a, tt.b); got != tt.want {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestExamplesAndRange(t *testing.T) {
	cs := updates("device.s", 12)
	// Reverse them: the examples and the range do not depend on the order.
	for i, j := 0, len(cs)-1; i < j; i, j = i+1, j-1 {
		cs[i], cs[j] = cs[j], cs[i]
	}
	e := &entry{members: cs}
	if got, want := examples(e), "device.s[0], device.s[1], device.s[2] and 9 more"; got != want {
		t.Errorf("examples = %q, want %q", got, want)
	}
	if first, last := idRange(e); first != "s-0" || last != "s-11" {
		t.Errorf("idRange = %q, %q, want s-0, s-11", first, last)
	}
}

func TestGroupHeadline(t *testing.T) {
	four := func(f func(i int) *plan.Change) []*plan.Change {
		var out []*plan.Change
		for i := range 4 {
			out = append(out, f(i))
		}
		return out
	}
	tests := map[string]struct {
		members []*plan.Change
		want    string
	}{
		"update": {updates("device.s", 4), "# 4 × device.s[*] will be updated in place, all the same way"},
		"update with drift": {four(func(i int) *plan.Change {
			return edit(updateOf("device.s", i, 30.0), func(c *plan.Change) { c.Attrs[0].Drift = true })
		}), "# 4 × device.s[*] will be updated in place (changed outside iotplan), all the same way"},
		"refresh-only drift": {four(func(i int) *plan.Change {
			return edit(updateOf("device.s", i, 30.0), func(c *plan.Change) { c.Attrs[0].Drift, c.Reason = true, "changed outside iotplan" })
		}), "# 4 × device.s[*] have changed outside iotplan, all the same way"},
		"create":      {four(func(i int) *plan.Change { return createOf("device.t", i, nil) }), "# 4 × device.t[*] will be created"},
		"delete":      {four(func(i int) *plan.Change { return deleteOf("device.v", i, false) }), "# 4 × device.v[*] will be destroyed"},
		"gone delete": {four(func(i int) *plan.Change { return deleteOf("device.v", i, true) }), "# 4 × device.v[*] were deleted outside iotplan and will be removed from the state"},
		"move":        {four(func(i int) *plan.Change { return moveOf("device.old", "device.new", i) }), "# 4 × device.old[*] have moved to device.new[*]"},
		"thousands":   {updates("device.s", 1200), "# 1,200 × device.s[*] will be updated in place, all the same way"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			es := entries(tt.members, Options{Group: true})
			if len(es) != 1 {
				t.Fatalf("got %d entries, want one group", len(es))
			}
			if got := groupHeadline(es[0]); got != tt.want {
				t.Errorf("groupHeadline = %q, want %q", got, tt.want)
			}
		})
	}
}
