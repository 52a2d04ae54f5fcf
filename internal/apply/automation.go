package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

// AutomationWriter is what apply needs of a hub for configurations and
// jobs.
type AutomationWriter interface {
	Configuration(ctx context.Context, id string) (*hub.Configuration, error)
	CreateConfiguration(ctx context.Context, c *hub.Configuration) (*hub.Configuration, error)
	UpdateConfiguration(ctx context.Context, c *hub.Configuration, ifMatch string) (*hub.Configuration, error)
	DeleteConfiguration(ctx context.Context, id, ifMatch string) error
	CreateJob(ctx context.Context, req *hub.JobRequest) (*hub.JobResponse, error)
	CancelJob(ctx context.Context, id string) (*hub.JobResponse, error)
}

func isAutomation(c *plan.Change) bool {
	return c.Type == state.TypeConfiguration || c.Type == state.TypeJob
}

func (a *applier) automation() (AutomationWriter, error) {
	aw, ok := a.w.(AutomationWriter)
	if !ok {
		return nil, errors.New("this hub does not manage configurations and jobs")
	}
	return aw, nil
}

// configurationOf is the hub configuration a resource declares.
func configurationOf(r *state.Resource) *hub.Configuration {
	c := &hub.Configuration{ID: r.ObjectID, SchemaVersion: "1.0", Content: hub.ConfigurationContent{DeviceContent: map[string]any{}}}
	c.TargetCondition, _ = r.Spec["target_condition"].(string)
	if p, ok := r.Spec["priority"].(float64); ok {
		c.Priority = int(p)
	}
	if l, ok := r.Spec["labels"].(map[string]any); ok && len(l) > 0 {
		c.Labels = map[string]string{}
		for k, v := range l {
			c.Labels[k], _ = v.(string)
		}
	}
	if m, ok := r.Spec["metrics"].(map[string]any); ok && len(m) > 0 {
		c.Metrics = &hub.ConfigurationMetrics{Queries: map[string]string{}}
		for k, v := range m {
			c.Metrics.Queries[k], _ = v.(string)
		}
	}
	if d, ok := r.Spec["desired"].(map[string]any); ok {
		for k, v := range d {
			c.Content.DeviceContent["properties.desired."+k] = v
		}
	}
	return c
}

// jobOf is the job request a resource declares.
func jobOf(r *state.Resource) (*hub.JobRequest, error) {
	req := &hub.JobRequest{JobID: r.ObjectID}
	req.QueryCondition, _ = r.Spec["query"].(string)
	if s, ok := r.Spec["start_time"].(string); ok && s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("start_time %q: %w", s, err)
		}
		req.StartTime = t
	}
	if s, ok := r.Spec["max_duration"].(string); ok && s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("max_duration %q: %w", s, err)
		}
		req.MaxExecutionTimeInSeconds = int64(d / time.Second)
	}
	switch r.Spec["type"] {
	case "method":
		m := &hub.MethodRequest{}
		m.MethodName, _ = r.Spec["method"].(string)
		payload, err := json.Marshal(r.Spec["payload"])
		if err != nil {
			return nil, fmt.Errorf("payload: %w", err)
		}
		m.Payload = payload
		for key, dst := range map[string]*int{"response_timeout": &m.ResponseTimeoutInSeconds, "connect_timeout": &m.ConnectTimeoutInSeconds} {
			if s, ok := r.Spec[key].(string); ok && s != "" {
				d, err := time.ParseDuration(s)
				if err != nil {
					return nil, fmt.Errorf("%s %q: %w", key, s, err)
				}
				*dst = int(d / time.Second)
			}
		}
		req.Type, req.CloudToDeviceMethod = hub.JobTypeDeviceMethod, m
	case "twin_update":
		t := &hub.JobTwin{ETag: "*"}
		if tags, ok := r.Spec["tags"].(map[string]any); ok {
			t.Tags = tags
		}
		if d, ok := r.Spec["desired"].(map[string]any); ok {
			t.Properties = &hub.JobTwinProperties{Desired: d}
		}
		req.Type, req.UpdateTwin = hub.JobTypeUpdateTwin, t
	default:
		return nil, fmt.Errorf("unknown job type %v", r.Spec["type"])
	}
	return req, nil
}

func (a *applier) createAutomation(ctx context.Context, c *plan.Change) error {
	aw, err := a.automation()
	if err != nil {
		return err
	}
	want := c.After
	r := &state.Resource{Addr: c.Addr, Type: want.Type, ObjectID: want.ObjectID, Spec: want.Spec}
	if want.Type == state.TypeConfiguration {
		out, err := aw.CreateConfiguration(ctx, configurationOf(want))
		if err != nil {
			return fmt.Errorf("create configuration %q: %w", want.ObjectID, err)
		}
		r.ETag = out.ETag
		a.st.Set(r)
		return nil
	}
	req, err := jobOf(want)
	if err != nil {
		return fmt.Errorf("job %q: %w", want.ObjectID, err)
	}
	out, err := aw.CreateJob(ctx, req)
	if err != nil {
		return fmt.Errorf("create job %q: %w", want.ObjectID, err)
	}
	r.JobStatus = string(out.Status)
	a.st.Set(r)
	return nil
}

func (a *applier) updateAutomation(ctx context.Context, c *plan.Change) error {
	aw, err := a.automation()
	if err != nil {
		return err
	}
	want := c.After
	cur, err := aw.Configuration(ctx, want.ObjectID)
	if err != nil {
		return fmt.Errorf("read configuration %q: %w", want.ObjectID, err)
	}
	next := configurationOf(want)
	cur.TargetCondition, cur.Priority, cur.Labels, cur.Metrics = next.TargetCondition, next.Priority, next.Labels, next.Metrics
	out, err := aw.UpdateConfiguration(ctx, cur, cur.ETag)
	if err != nil {
		return fmt.Errorf("update configuration %q: %w", want.ObjectID, err)
	}
	r := a.st.Resource(c.Addr)
	if r == nil {
		r = &state.Resource{Addr: c.Addr, Type: want.Type, ObjectID: want.ObjectID}
	}
	r.Spec, r.ETag = want.Spec, out.ETag
	a.st.Set(r)
	return nil
}

func (a *applier) deleteAutomation(ctx context.Context, c *plan.Change) error {
	b := c.Before
	if !c.Gone {
		aw, err := a.automation()
		if err != nil {
			return err
		}
		if b.Type == state.TypeConfiguration {
			err := aw.DeleteConfiguration(ctx, b.ObjectID, "*")
			if err != nil && !errors.Is(err, hub.ErrNotFound) {
				return fmt.Errorf("delete configuration %q: %w", b.ObjectID, err)
			}
		} else if !hub.JobStatus(c.JobStatus).Terminal() {
			// A job cannot be deleted; one that has not ended is cancelled.
			_, err := aw.CancelJob(ctx, b.ObjectID)
			if err != nil && !errors.Is(err, hub.ErrNotFound) && !errors.Is(err, hub.ErrBadRequest) {
				return fmt.Errorf("cancel job %q: %w", b.ObjectID, err)
			}
		}
	}
	// The old half of a replacement made first leaves the state to the new
	// object, already recorded under the same address.
	if !(c.Action == plan.Replace && c.CreateBeforeDestroy) {
		a.st.Remove(c.Addr)
	}
	return nil
}
