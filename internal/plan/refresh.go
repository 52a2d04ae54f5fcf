package plan

import (
	"context"
	"fmt"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/state"
)

// Reader is what refresh needs of a hub: a paged twin query.
type Reader interface {
	QueryTwins(ctx context.Context, query string, opts hub.QueryOptions) (*hub.TwinPage, error)
}

// Actual is what the hub holds, as refresh read it.
type Actual struct {
	// Devices are the device twins by device ID.
	Devices map[string]*hub.Twin
	// Pages is the number of query pages read.
	Pages int
}

// Refresh reads every device twin of the hub with a paged bulk query, never
// one call per device.
func Refresh(ctx context.Context, r Reader, pageSize int) (*Actual, error) {
	a := &Actual{Devices: map[string]*hub.Twin{}}
	opts := hub.QueryOptions{PageSize: pageSize}
	for {
		page, err := r.QueryTwins(ctx, "SELECT * FROM devices", opts)
		if err != nil {
			return nil, fmt.Errorf("read device twins: %w", err)
		}
		a.Pages++
		for i := range page.Twins {
			t := &page.Twins[i]
			a.Devices[t.DeviceID] = t
		}
		if page.Continuation == "" {
			return a, nil
		}
		if page.Continuation == opts.Continuation {
			return nil, fmt.Errorf("read device twins: the hub returned the same continuation token twice")
		}
		opts.Continuation = page.Continuation
	}
}

// ActualFromState stands in for a refresh when the hub is not read
// (-refresh=false): it assumes the hub holds exactly what the state
// records. Apply still sends the recorded etags, so a twin changed since
// is not overwritten.
func ActualFromState(prior *state.State) *Actual {
	a := &Actual{Devices: map[string]*hub.Twin{}}
	for _, r := range prior.Resources {
		desired := hub.TwinCollection{}
		for k, v := range r.Desired {
			desired[k] = v
		}
		a.Devices[r.DeviceID] = &hub.Twin{DeviceID: r.DeviceID, ETag: r.TwinETag, DeviceETag: r.ETag, Status: r.Status,
			StatusReason: r.StatusReason, AuthenticationType: r.Auth, Tags: r.Tags,
			Properties: hub.TwinProperties{Desired: desired, Reported: hub.TwinCollection{}}}
	}
	return a
}
