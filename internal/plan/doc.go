// Package plan computes what apply must do: it refreshes the hub's actual
// twins in bulk, diffs the desired model from the configuration against the
// prior state and the actual hub, and holds the result as a Plan that can be
// shown, saved to a file and applied without recomputing anything.
//
// Refresh is the only part that talks to a hub; Diff is pure. The package
// knows nothing of how a plan is drawn (see plan/render) or executed (see
// apply).
package plan
