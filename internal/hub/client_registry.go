package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// checkIDArg checks an ID before it goes into a path, so that an empty or
// malformed one is the hub's 400 answer rather than another endpoint's.
func checkIDArg(kind, id string) error {
	if err := ValidateID(id); err != nil {
		return Errorf(CodeArgumentInvalid, "invalid %s ID: %v", kind, err)
	}
	return nil
}

func devicePath(id string) string { return apiPath("devices", escapeSegment(id)) }

func modulePath(deviceID, moduleID string) string {
	return apiPath("devices", escapeSegment(deviceID), "modules", escapeSegment(moduleID))
}

func ifMatchHeader(etag string) http.Header {
	return http.Header{"If-Match": {quoteETag(etag)}}
}

// Device returns a device identity, with its keys.
func (c *Client) Device(ctx context.Context, id string) (*Device, error) {
	if err := checkIDArg("device", id); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, &request{method: http.MethodGet, path: devicePath(id)}, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeDevice(res.body)
}

// deviceBody is what a device PUT sends: the ID and the updatable fields.
type deviceBody struct {
	DeviceID       string                   `json:"deviceId"`
	Status         Status                   `json:"status,omitempty"`
	StatusReason   string                   `json:"statusReason,omitempty"`
	Authentication *AuthenticationMechanism `json:"authentication,omitempty"`
	Capabilities   *DeviceCapabilities      `json:"capabilities,omitempty"`
	DeviceScope    string                   `json:"deviceScope,omitempty"`
	ParentScopes   []string                 `json:"parentScopes,omitempty"`
}

func newDeviceBody(d *Device) deviceBody {
	return deviceBody{DeviceID: d.DeviceID, Status: d.Status, StatusReason: d.StatusReason, Authentication: d.Authentication,
		Capabilities: d.Capabilities, DeviceScope: d.DeviceScope, ParentScopes: d.ParentScopes}
}

// CreateDevice registers a device (PUT without If-Match). A create whose
// outcome is unknown is reconciled by reading the device, as Client says.
func (c *Client) CreateDevice(ctx context.Context, d *Device) (*Device, error) {
	if d == nil {
		return nil, Errorf(CodeArgumentInvalid, "no device given")
	}
	if err := checkIDArg("device", d.DeviceID); err != nil {
		return nil, err
	}
	req := &request{method: http.MethodPut, path: devicePath(d.DeviceID), body: newDeviceBody(d), retry: onlyIfNotDone}
	out, err := c.create(ctx, req, func(ctx context.Context) (any, error) { return c.Device(ctx, d.DeviceID) },
		func(got any) bool { return deviceMatches(d, got.(*Device)) },
		func(b []byte) (any, error) { return decodeDevice(b) },
		Errorf(CodeDeviceAlreadyExists, "device %q exists and differs from the one sent; an earlier attempt to create it had an unknown outcome, so another client made it", d.DeviceID))
	if err != nil {
		return nil, err
	}
	return out.(*Device), nil
}

// create sends a create request and reconciles an unknown outcome: read
// the object; absent, send again; present, it is ours when it matches what
// was sent, and a conflict otherwise.
func (c *Client) create(ctx context.Context, req *request, read func(context.Context) (any, error), matches func(any) bool,
	decode func([]byte) (any, error), conflict *Error) (any, error) {
	b := c.newBudget()
	uncertain := false
	for {
		res, err := c.do(ctx, req, b)
		if err == nil {
			return decode(res.body)
		}
		var ue *UncertainError
		isUncertain := errors.As(err, &ue)
		if !isUncertain && !(uncertain && errors.Is(err, ErrAlreadyExists)) {
			return nil, err
		}
		uncertain = true
		got, rerr := read(ctx)
		switch {
		case rerr == nil && matches(got):
			c.log.Info("a create with an unknown outcome had taken effect", "path", c.pathForLog(req.path))
			return got, nil
		case rerr == nil:
			return nil, conflict
		case !errors.Is(rerr, ErrNotFound):
			return nil, fmt.Errorf("%w; reading the object back to check failed: %v", err, rerr)
		}
		if b.used >= b.max {
			return nil, err
		}
		wait := c.backoff(b.used)
		c.log.Info("a create with an unknown outcome had not taken effect; retrying", "path", c.pathForLog(req.path), "attempt", b.used, "wait", wait, "err", err)
		if werr := c.sleep(ctx, wait); werr != nil {
			return nil, fmt.Errorf("%w; gave up waiting to retry: %w", err, werr)
		}
	}
}

// UpdateDevice replaces a device's updatable fields (PUT with If-Match;
// "" means "*").
func (c *Client) UpdateDevice(ctx context.Context, d *Device, ifMatch string) (*Device, error) {
	if d == nil {
		return nil, Errorf(CodeArgumentInvalid, "no device given")
	}
	if err := checkIDArg("device", d.DeviceID); err != nil {
		return nil, err
	}
	req := &request{method: http.MethodPut, path: devicePath(d.DeviceID), header: ifMatchHeader(ifMatch), body: newDeviceBody(d)}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		if res.uncertain && errors.Is(err, ErrPreconditionFailed) {
			if got, rerr := c.Device(ctx, d.DeviceID); rerr == nil && deviceMatches(d, got) {
				return got, nil
			}
		}
		return nil, err
	}
	return decodeDevice(res.body)
}

// DeleteDevice removes a device (If-Match "" means "*"). A 404 after an
// attempt with an unknown outcome means that attempt deleted it.
func (c *Client) DeleteDevice(ctx context.Context, id, ifMatch string) error {
	if err := checkIDArg("device", id); err != nil {
		return err
	}
	res, err := c.do(ctx, &request{method: http.MethodDelete, path: devicePath(id), header: ifMatchHeader(ifMatch)}, c.newBudget())
	if err != nil && res.uncertain && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Module returns a module identity, with its keys.
func (c *Client) Module(ctx context.Context, deviceID, moduleID string) (*Module, error) {
	if err := checkModuleArgs(deviceID, moduleID); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, &request{method: http.MethodGet, path: modulePath(deviceID, moduleID)}, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeModule(res.body)
}

func checkModuleArgs(deviceID, moduleID string) error {
	if err := checkIDArg("device", deviceID); err != nil {
		return err
	}
	return checkIDArg("module", moduleID)
}

// Modules lists the modules of a device.
func (c *Client) Modules(ctx context.Context, deviceID string) ([]Module, error) {
	if err := checkIDArg("device", deviceID); err != nil {
		return nil, err
	}
	res, err := c.do(ctx, &request{method: http.MethodGet, path: apiPath("devices", escapeSegment(deviceID), "modules")}, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeList(res.body, decodeModule)
}

// moduleBody is what a module PUT sends.
type moduleBody struct {
	DeviceID       string                   `json:"deviceId"`
	ModuleID       string                   `json:"moduleId"`
	ManagedBy      string                   `json:"managedBy,omitempty"`
	Authentication *AuthenticationMechanism `json:"authentication,omitempty"`
}

func newModuleBody(m *Module) moduleBody {
	return moduleBody{DeviceID: m.DeviceID, ModuleID: m.ModuleID, ManagedBy: m.ManagedBy, Authentication: m.Authentication}
}

// CreateModule registers a module, reconciled as CreateDevice is.
func (c *Client) CreateModule(ctx context.Context, m *Module) (*Module, error) {
	if m == nil {
		return nil, Errorf(CodeArgumentInvalid, "no module given")
	}
	if err := checkModuleArgs(m.DeviceID, m.ModuleID); err != nil {
		return nil, err
	}
	req := &request{method: http.MethodPut, path: modulePath(m.DeviceID, m.ModuleID), body: newModuleBody(m), retry: onlyIfNotDone}
	out, err := c.create(ctx, req, func(ctx context.Context) (any, error) { return c.Module(ctx, m.DeviceID, m.ModuleID) },
		func(got any) bool { return moduleMatches(m, got.(*Module)) },
		func(b []byte) (any, error) { return decodeModule(b) },
		Errorf(CodeModuleAlreadyExists, "module %q of device %q exists and differs from the one sent; an earlier attempt to create it had an unknown outcome, so another client made it", m.ModuleID, m.DeviceID))
	if err != nil {
		return nil, err
	}
	return out.(*Module), nil
}

// UpdateModule replaces a module's updatable fields.
func (c *Client) UpdateModule(ctx context.Context, m *Module, ifMatch string) (*Module, error) {
	if m == nil {
		return nil, Errorf(CodeArgumentInvalid, "no module given")
	}
	if err := checkModuleArgs(m.DeviceID, m.ModuleID); err != nil {
		return nil, err
	}
	req := &request{method: http.MethodPut, path: modulePath(m.DeviceID, m.ModuleID), header: ifMatchHeader(ifMatch), body: newModuleBody(m)}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		if res.uncertain && errors.Is(err, ErrPreconditionFailed) {
			if got, rerr := c.Module(ctx, m.DeviceID, m.ModuleID); rerr == nil && moduleMatches(m, got) {
				return got, nil
			}
		}
		return nil, err
	}
	return decodeModule(res.body)
}

// DeleteModule removes a module, under the rules of DeleteDevice.
func (c *Client) DeleteModule(ctx context.Context, deviceID, moduleID, ifMatch string) error {
	if err := checkModuleArgs(deviceID, moduleID); err != nil {
		return err
	}
	res, err := c.do(ctx, &request{method: http.MethodDelete, path: modulePath(deviceID, moduleID), header: ifMatchHeader(ifMatch)}, c.newBudget())
	if err != nil && res.uncertain && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// BulkRegistry sends a bulk registry call. Entries that failed are in the
// result (the hub answers 400 with it); the call itself fails only when
// the hub refuses it as a whole. A bulk call is repeated only when the hub
// certainly did not act on it.
func (c *Client) BulkRegistry(ctx context.Context, entries []ExportImportDevice) (*BulkRegistryOperationResult, error) {
	if entries == nil {
		entries = []ExportImportDevice{}
	}
	res, err := c.do(ctx, &request{method: http.MethodPost, path: apiPath("devices"), body: entries, retry: onlyIfNotDone}, c.newBudget())
	if err != nil {
		if res.status != http.StatusBadRequest {
			return nil, err
		}
		var probe map[string]json.RawMessage
		if json.Unmarshal(res.body, &probe) != nil {
			return nil, err
		}
		if _, ok := member(probe, "isSuccessful"); !ok {
			return nil, err
		}
	}
	var out BulkRegistryOperationResult
	if err := json.Unmarshal(res.body, &out); err != nil {
		return nil, fmt.Errorf("decode bulk registry result: %w", err)
	}
	return &out, nil
}

// Statistics counts the devices of the hub.
func (c *Client) Statistics(ctx context.Context) (*RegistryStatistics, error) {
	res, err := c.do(ctx, &request{method: http.MethodGet, path: apiPath("statistics", "devices")}, c.newBudget())
	if err != nil {
		return nil, err
	}
	var out RegistryStatistics
	if err := json.Unmarshal(res.body, &out); err != nil {
		return nil, fmt.Errorf("decode registry statistics: %w", err)
	}
	return &out, nil
}

// Devices lists up to top device identities (1 to 1000; the hub's
// maximum when top is 0) with GET /devices. The list has no paging; read a
// whole registry with QueryTwins.
func (c *Client) Devices(ctx context.Context, top int) ([]Device, error) {
	req := &request{method: http.MethodGet, path: apiPath("devices")}
	if top > 0 {
		req.query = url.Values{"top": {strconv.Itoa(top)}}
	}
	res, err := c.do(ctx, req, c.newBudget())
	if err != nil {
		return nil, err
	}
	return decodeList(res.body, decodeDevice)
}
