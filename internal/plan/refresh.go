package plan

import (
	"context"
	"fmt"

	"github.com/iotplan/iotplan/internal/hub"
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
