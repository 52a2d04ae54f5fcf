package plan

import "fmt"

// Action is what apply does to one resource.
type Action int

// The actions of a plan.
const (
	NoOp Action = iota
	Create
	Update
	Replace // delete, then create under the new identity
	Delete
)

func (a Action) String() string {
	switch a {
	case NoOp:
		return "no-op"
	case Create:
		return "create"
	case Update:
		return "update"
	case Replace:
		return "replace"
	case Delete:
		return "delete"
	default:
		panic(fmt.Sprintf("plan: unknown action %d", int(a)))
	}
}

// ParseAction is the inverse of Action.String.
func ParseAction(s string) (Action, error) {
	for _, a := range []Action{NoOp, Create, Update, Replace, Delete} {
		if a.String() == s {
			return a, nil
		}
	}
	return NoOp, fmt.Errorf("unknown action %q", s)
}
