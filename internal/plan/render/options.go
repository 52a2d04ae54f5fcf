package render

// Options change how Human and Markdown draw a plan. The zero value lists
// every change on its own.
type Options struct {
	// Group draws changes that look the same as one entry: more than
	// GroupMin instances of one resource block that are created, updated,
	// destroyed or moved in exactly the same way (every attribute, value
	// and note shown is equal). Imports, replacements and moved resources
	// that also change are always listed on their own.
	Group bool
	// GroupMin is how many equal changes are still listed one by one; 0
	// means DefaultGroupMin.
	GroupMin int
}

// DefaultGroupMin is the GroupMin of the zero Options: four or more equal
// changes are grouped.
const DefaultGroupMin = 3

func (o Options) groupMin() int {
	if o.GroupMin <= 0 {
		return DefaultGroupMin
	}
	return o.GroupMin
}
