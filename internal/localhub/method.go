package localhub

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/iotplan/iotplan/internal/hub"
)

// MethodRouter delivers direct methods to connected devices. The device
// gateway of `iotplan hub serve` is one; without a router every device is
// offline.
type MethodRouter interface {
	// InvokeMethod delivers req to the device (moduleID "") or module and
	// waits for its answer. It returns a DeviceNotOnline error when the
	// identity is not connected or has not subscribed to methods, and a
	// GatewayTimeout error when no answer comes within the request's
	// response timeout. req has been checked and its timeouts filled in.
	InvokeMethod(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error)
}

// SetMethodRouter makes r the router of direct methods. Call it before the
// hub serves requests.
func (h *Hub) SetMethodRouter(r MethodRouter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.router = r
}

// InvokeDeviceMethod calls a direct method on a connected device.
func (h *Hub) InvokeDeviceMethod(ctx context.Context, deviceID string, req hub.MethodRequest) (*hub.MethodResult, error) {
	return h.invoke(ctx, deviceID, "", req)
}

// InvokeModuleMethod calls a direct method on a connected module.
func (h *Hub) InvokeModuleMethod(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error) {
	if moduleID == "" {
		return nil, checkID("module", moduleID)
	}
	return h.invoke(ctx, deviceID, moduleID, req)
}

func (h *Hub) invoke(ctx context.Context, deviceID, moduleID string, req hub.MethodRequest) (*hub.MethodResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req, err := checkMethodRequest(req)
	if err != nil {
		return nil, err
	}
	if err := checkID("device", deviceID); err != nil {
		return nil, err
	}
	err = h.view("invoke method", func(tx *bolt.Tx) error {
		r, err := getDevice(tx, deviceID)
		if err != nil {
			return err
		}
		// A disabled device is reported as not found, as IoT Hub does for
		// methods.
		if r == nil || r.Status == string(hub.StatusDisabled) {
			return deviceNotFound(deviceID)
		}
		if moduleID != "" {
			_, err := findModule(tx, deviceID, moduleID)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	router := h.router
	h.mu.Unlock()
	if router == nil {
		return nil, deviceNotOnline(deviceID, moduleID)
	}
	return router.InvokeMethod(ctx, deviceID, moduleID, req)
}

// checkMethodRequest validates a method call and fills in the default
// response timeout.
func checkMethodRequest(req hub.MethodRequest) (hub.MethodRequest, error) {
	if req.MethodName == "" {
		return req, hub.Errorf(hub.CodeArgumentInvalid, "the method name is empty")
	}
	if len(req.MethodName) > 1024 {
		return req, hub.Errorf(hub.CodeArgumentInvalid, "the method name is longer than 1024 characters")
	}
	if len(req.Payload) > hub.MaxMethodPayloadBytes {
		return req, hub.Errorf(hub.CodeMessageTooLarge, "the method payload is %d bytes; the most IoT Hub accepts is %d", len(req.Payload), hub.MaxMethodPayloadBytes)
	}
	if len(req.Payload) > 0 && !json.Valid(req.Payload) {
		return req, hub.Errorf(hub.CodeArgumentInvalid, "the method payload is not valid JSON")
	}
	if req.ResponseTimeoutInSeconds == 0 {
		req.ResponseTimeoutInSeconds = hub.DefaultMethodResponseTimeout
	}
	if req.ResponseTimeoutInSeconds < hub.MinMethodResponseTimeout || req.ResponseTimeoutInSeconds > hub.MaxMethodResponseTimeout {
		return req, hub.Errorf(hub.CodeArgumentInvalid, "responseTimeoutInSeconds is %d; it must be between %d and %d",
			req.ResponseTimeoutInSeconds, hub.MinMethodResponseTimeout, hub.MaxMethodResponseTimeout)
	}
	if req.ConnectTimeoutInSeconds < 0 || req.ConnectTimeoutInSeconds > hub.MaxMethodConnectTimeout {
		return req, hub.Errorf(hub.CodeArgumentInvalid, "connectTimeoutInSeconds is %d; it must be between 0 and %d",
			req.ConnectTimeoutInSeconds, hub.MaxMethodConnectTimeout)
	}
	return req, nil
}

func deviceNotOnline(deviceID, moduleID string) error {
	what := "device " + deviceID
	if moduleID != "" {
		what = "module " + moduleID + " of device " + deviceID
	}
	return hub.Errorf(hub.CodeDeviceNotOnline, "The operation failed because the requested %s isn't online or hasn't registered the direct method callback.", what)
}
