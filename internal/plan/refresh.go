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
	// Modules are the module twins by "deviceID/moduleID".
	Modules map[string]*hub.Twin
	// Pages is the number of query pages read.
	Pages int
	// Configurations and Jobs are those of the hub that refresh read, by
	// ID; nil when the hub was not asked.
	Configurations map[string]*hub.Configuration
	Jobs           map[string]*hub.JobResponse

	scopes map[string]string // deviceScope → device ID, built on first use
}

// Lookup returns the twin of the identity r names, or nil.
func (a *Actual) Lookup(r *state.Resource) *hub.Twin {
	if r.ModuleID != "" {
		return a.Modules[r.HubID()]
	}
	return a.Devices[r.DeviceID]
}

// deviceOfScope returns the ID of the edge device whose deviceScope is
// scope, or the scope itself when no device has it.
func (a *Actual) deviceOfScope(scope string) string {
	if a.scopes == nil {
		a.scopes = map[string]string{}
		// Leaf devices carry their parent's scope too: only edge devices
		// own theirs.
		for id, t := range a.Devices {
			if t.DeviceScope != "" && t.Capabilities != nil && t.Capabilities.IoTEdge {
				a.scopes[t.DeviceScope] = id
			}
		}
	}
	if id, ok := a.scopes[scope]; ok {
		return id
	}
	return scope
}

// Refresh reads every device and module twin of the hub with paged bulk
// queries, never one call per identity.
func Refresh(ctx context.Context, r Reader, pageSize int) (*Actual, error) {
	a := &Actual{Devices: map[string]*hub.Twin{}, Modules: map[string]*hub.Twin{}}
	for _, q := range []string{"SELECT * FROM devices", "SELECT * FROM devices.modules"} {
		opts := hub.QueryOptions{PageSize: pageSize}
		for {
			page, err := r.QueryTwins(ctx, q, opts)
			if err != nil {
				return nil, fmt.Errorf("read twins (%s): %w", q, err)
			}
			a.Pages++
			for i := range page.Twins {
				t := &page.Twins[i]
				if t.ModuleID != "" {
					a.Modules[t.DeviceID+"/"+t.ModuleID] = t
				} else {
					a.Devices[t.DeviceID] = t
				}
			}
			if page.Continuation == "" {
				break
			}
			if page.Continuation == opts.Continuation {
				return nil, fmt.Errorf("read twins (%s): the hub returned the same continuation token twice", q)
			}
			opts.Continuation = page.Continuation
		}
	}
	return a, nil
}

// ActualFromState stands in for a refresh when the hub is not read
// (-refresh=false): it assumes the hub holds exactly what the state
// records. Apply still sends the recorded etags, so a twin changed since
// is not overwritten.
func ActualFromState(prior *state.State) *Actual {
	a := &Actual{Devices: map[string]*hub.Twin{}, Modules: map[string]*hub.Twin{},
		Configurations: map[string]*hub.Configuration{}, Jobs: map[string]*hub.JobResponse{}}
	for _, r := range prior.Resources {
		switch r.Type {
		case state.TypeConfiguration:
			a.Configurations[r.ObjectID] = configurationFromSpec(r)
			continue
		case state.TypeJob:
			a.Jobs[r.ObjectID] = &hub.JobResponse{JobID: r.ObjectID, Status: hub.JobStatus(r.JobStatus)}
			continue
		}
		desired := hub.TwinCollection{}
		for k, v := range r.Desired {
			desired[k] = v
		}
		t := &hub.Twin{DeviceID: r.DeviceID, ModuleID: r.ModuleID, ETag: r.TwinETag, DeviceETag: r.ETag, Status: r.Status,
			StatusReason: r.StatusReason, AuthenticationType: r.Auth, Tags: r.Tags, ManagedBy: r.ManagedBy,
			Capabilities: &hub.DeviceCapabilities{IoTEdge: r.Edge},
			Properties:   hub.TwinProperties{Desired: desired, Reported: hub.TwinCollection{}}}
		if r.PrimaryThumbprint != "" {
			p := r.PrimaryThumbprint
			t.X509Thumbprint.PrimaryThumbprint = &p
		}
		if r.SecondaryThumbprint != "" {
			s := r.SecondaryThumbprint
			t.X509Thumbprint.SecondaryThumbprint = &s
		}
		if r.Parent != "" {
			t.ParentScopes = []string{r.Parent} // resolved back by deviceOfScope
		}
		if r.ModuleID != "" {
			a.Modules[r.HubID()] = t
		} else {
			a.Devices[r.DeviceID] = t
		}
	}
	return a
}

// configurationFromSpec is a configuration as the state recorded it.
func configurationFromSpec(r *state.Resource) *hub.Configuration {
	c := &hub.Configuration{ID: r.ObjectID, ETag: r.ETag}
	c.TargetCondition, _ = r.Spec["target_condition"].(string)
	if p, ok := r.Spec["priority"].(float64); ok {
		c.Priority = int(p)
	}
	if l, ok := r.Spec["labels"].(map[string]any); ok {
		c.Labels = map[string]string{}
		for k, v := range l {
			c.Labels[k], _ = v.(string)
		}
	}
	if m, ok := r.Spec["metrics"].(map[string]any); ok {
		c.Metrics = &hub.ConfigurationMetrics{Queries: map[string]string{}}
		for k, v := range m {
			c.Metrics.Queries[k], _ = v.(string)
		}
	}
	return c
}
