package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

type movedBlock struct {
	From      *hcl.Attribute `hcl:"from,optional"` // required, checked by decodeMoved
	To        *hcl.Attribute `hcl:"to,optional"`   // required, checked by decodeMoved
	DeclRange hcl.Range      `hcl:",def_range"`
}

// decodeMoved reads the moved blocks, in declaration order, and checks
// them: both addresses are resources of one type, the old address is no
// longer declared, and the blocks form chains without forks, merges or
// loops.
func (r *run) decodeMoved(blocks []*movedBlock, instances map[string]bool) []*Moved {
	var out []*Moved
	byFrom := map[string]*Moved{}
	byTo := map[string]*Moved{}
	for _, b := range blocks {
		if !r.required(b.From, "from", "a moved block", b.DeclRange) || !r.required(b.To, "to", "a moved block", b.DeclRange) {
			continue
		}
		from, okFrom := r.movedAddr(b.From.Expr, "from")
		to, okTo := r.movedAddr(b.To.Expr, "to")
		if !okFrom || !okTo {
			continue
		}
		fail := func(summary, detail string) {
			r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: b.DeclRange.Ptr()})
		}
		switch {
		case from.Type != to.Type:
			fail("Resource type mismatch", fmt.Sprintf("This moves %s to %s, a resource of another type. A move keeps the object on the hub as it is, so both addresses must be of one type; to turn one into the other, remove one block and declare the other.", from, to))
			continue
		case from.String() == to.String():
			fail("Redundant moved block", fmt.Sprintf("This moves %s to itself. Remove the block.", from))
			continue
		}
		whole := from.Key == nil && to.Key == nil
		if res := r.resources[from.Resource().String()]; whole && res != nil && from.Name != to.Name {
			fail("Moved object still declared", fmt.Sprintf("This moves %s to %s, but %s is still declared at %s. Remove or rename the old block: a move says the block now has another name.", from, to, from, res.block.DeclRange))
			continue
		}
		if !whole && instances[from.String()] {
			fail("Moved object still declared", fmt.Sprintf("This moves %s to %s, but the configuration still declares %s. An instance moves only from an address the configuration no longer has.", from, to, from))
			continue
		}
		m := &Moved{From: from, To: to, DeclRange: b.DeclRange}
		if prev := byFrom[from.String()]; prev != nil {
			fail("Ambiguous move statements", fmt.Sprintf("%s is also moved to %s at %s. An address can move to one place only; remove one of the blocks.", from, prev.To, prev.DeclRange))
			continue
		}
		if prev := byTo[to.String()]; prev != nil {
			fail("Ambiguous move statements", fmt.Sprintf("%s is also the destination of the move from %s at %s. Two objects cannot move to one address; remove one of the blocks.", to, prev.From, prev.DeclRange))
			continue
		}
		byFrom[from.String()], byTo[to.String()] = m, m
		out = append(out, m)
	}

	// A chain that comes back to where it started moves nothing anywhere.
	reported := map[*Moved]bool{}
	for _, m := range out {
		seen := []*Moved{m}
		for next := byFrom[m.To.String()]; next != nil; next = byFrom[next.To.String()] {
			if next == m {
				if !reported[m] {
					var addrs []string
					for _, s := range seen {
						reported[s] = true
						addrs = append(addrs, s.From.String())
					}
					addrs = append(addrs, m.From.String())
					r.diags = append(r.diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Cyclic dependency in move statements",
						Detail:   fmt.Sprintf("These moves form a loop: %s. Remove one of them.", strings.Join(addrs, " → ")),
						Subject:  m.DeclRange.Ptr(),
					})
				}
				break
			}
			if slices.Contains(seen, next) {
				break
			}
			seen = append(seen, next)
		}
	}
	return out
}

// movedAddr reads the from or to address of a moved block: a resource or
// resource instance, written as a reference.
func (r *run) movedAddr(expr hcl.Expression, which string) (Addr, bool) {
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid address",
			Detail:   fmt.Sprintf("%s must be a resource address written as a reference, such as device.gw or device.thermo[\"a\"], not a string or another expression.", which),
			Subject:  expr.Range().Ptr(),
		})
		return Addr{}, false
	}
	a, err := addrOfTraversal(t)
	if err != nil {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid address",
			Detail:   sentence(err.Error()),
			Subject:  expr.Range().Ptr(),
		})
		return Addr{}, false
	}
	return a, true
}
