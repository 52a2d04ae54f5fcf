package plan

import "fmt"

// ImportOnly turns the import change of addr in p into one that records the
// identity in the state as the hub has it and writes nothing to the hub:
// what `iotplan import` does. The owned keys are the configuration's, with
// the hub's values, so that the next plan shows what differs.
func ImportOnly(p *Plan, addr string, actual *Actual) (*Change, error) {
	var c *Change
	for _, ch := range p.Changes {
		if ch.Addr == addr {
			c = ch
		}
	}
	if c == nil || !c.Importing {
		return nil, fmt.Errorf("%s is not being imported", addr)
	}
	t := actual.Lookup(c.After)
	if t == nil {
		return nil, fmt.Errorf("the hub has no %s %q", c.After.Type, c.ImportID)
	}
	got := actualResource(c.After, t, actual)
	after := c.After.DeepCopy()
	after.Status, after.StatusReason, after.Edge, after.Parent = got.Status, got.StatusReason, got.Edge, got.Parent
	after.ManagedBy, after.PrimaryThumbprint, after.SecondaryThumbprint = got.ManagedBy, got.PrimaryThumbprint, got.SecondaryThumbprint
	after.Auth = got.Auth
	after.Tags = adopt(after.Tags, t.Tags)
	after.Desired = adopt(after.Desired, t.Properties.Desired.Properties())
	return &Change{Addr: c.Addr, Type: c.Type, Action: NoOp, After: after, Importing: true, ImportID: c.ImportID,
		DeviceETag: t.DeviceETag, TwinETag: t.ETag, Dependencies: c.Dependencies, Reason: c.Reason}, nil
}
