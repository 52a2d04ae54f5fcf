package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iotplan/iotplan/internal/hub"
)

// twinIn is the body of a twin PATCH or PUT. Only tags and desired
// properties are written (the reference's rule for the emulator); the
// other members of a twin, which SDKs send back as they read them, are
// accepted and ignored. Reported properties belong to the device.
type twinIn struct {
	DeviceID   string          `json:"deviceId"`
	ModuleID   string          `json:"moduleId"`
	Tags       map[string]any  `json:"tags"`
	Properties *twinProperties `json:"properties"`

	ETag                      json.RawMessage `json:"etag"` // If-Match is what counts
	Version                   json.RawMessage `json:"version"`
	DeviceETag                json.RawMessage `json:"deviceEtag"`
	Status                    json.RawMessage `json:"status"`
	StatusReason              json.RawMessage `json:"statusReason"`
	StatusUpdateTime          json.RawMessage `json:"statusUpdateTime"`
	ConnectionState           json.RawMessage `json:"connectionState"`
	LastActivityTime          json.RawMessage `json:"lastActivityTime"`
	CloudToDeviceMessageCount json.RawMessage `json:"cloudToDeviceMessageCount"`
	AuthenticationType        json.RawMessage `json:"authenticationType"`
	X509Thumbprint            json.RawMessage `json:"x509Thumbprint"`
	Capabilities              json.RawMessage `json:"capabilities"`
	DeviceScope               json.RawMessage `json:"deviceScope"`
	ParentScopes              json.RawMessage `json:"parentScopes"`
	ModelID                   json.RawMessage `json:"modelId"`
	Configurations            json.RawMessage `json:"configurations"`
	ManagedBy                 json.RawMessage `json:"managedBy"`
}

type twinProperties struct {
	Desired  map[string]any  `json:"desired"`
	Reported json.RawMessage `json:"reported"`
}

// readTwinBody decodes a twin PATCH or PUT body into the sections it
// writes. The "$version" and "$metadata" members of desired, which a
// client sending back a twin it read carries along, are dropped.
func readTwinBody(w http.ResponseWriter, r *http.Request, p params) (hub.TwinPatch, error) {
	var in twinIn
	if err := decodeBody(w, r, MaxBodyBytes, "a twin", &in); err != nil {
		return hub.TwinPatch{}, err
	}
	if _, err := sameID("deviceId", in.DeviceID, p.deviceID); err != nil {
		return hub.TwinPatch{}, err
	}
	if in.ModuleID != "" {
		if _, err := sameID("moduleId", in.ModuleID, p.moduleID); err != nil {
			return hub.TwinPatch{}, err
		}
	}
	patch := hub.TwinPatch{Tags: in.Tags}
	if in.Properties != nil {
		patch.Desired = in.Properties.Desired
		delete(patch.Desired, "$version")
		delete(patch.Desired, "$metadata")
	}
	return patch, nil
}

func (s *Server) getTwin(w http.ResponseWriter, r *http.Request, p params) error {
	var tw *hub.Twin
	var err error
	if p.moduleID == "" {
		tw, err = s.hub.Twin(r.Context(), p.deviceID)
	} else {
		tw, err = s.hub.ModuleTwin(r.Context(), p.deviceID, p.moduleID)
	}
	if err != nil {
		return err
	}
	setETag(w, tw.ETag)
	writeJSON(w, http.StatusOK, tw)
	return nil
}

// patchTwin merges tags and desired properties; If-Match is optional.
func (s *Server) patchTwin(w http.ResponseWriter, r *http.Request, p params) error {
	patch, err := readTwinBody(w, r, p)
	if err != nil {
		return err
	}
	etag, _ := ifMatch(r)
	var tw *hub.Twin
	if p.moduleID == "" {
		tw, err = s.hub.PatchTwin(r.Context(), p.deviceID, patch, etag)
	} else {
		tw, err = s.hub.PatchModuleTwin(r.Context(), p.deviceID, p.moduleID, patch, etag)
	}
	if err != nil {
		return err
	}
	setETag(w, tw.ETag)
	writeJSON(w, http.StatusOK, tw)
	return nil
}

// replaceTwin replaces tags and desired properties; a section the body
// lacks is replaced by an empty one (the reference's rule for the
// emulator).
func (s *Server) replaceTwin(w http.ResponseWriter, r *http.Request, p params) error {
	replacement, err := readTwinBody(w, r, p)
	if err != nil {
		return err
	}
	etag, _ := ifMatch(r)
	var tw *hub.Twin
	if p.moduleID == "" {
		tw, err = s.hub.ReplaceTwin(r.Context(), p.deviceID, replacement, etag)
	} else {
		tw, err = s.hub.ReplaceModuleTwin(r.Context(), p.deviceID, p.moduleID, replacement, etag)
	}
	if err != nil {
		return err
	}
	setETag(w, tw.ETag)
	writeJSON(w, http.StatusOK, tw)
	return nil
}

// queryIn is the body of POST /devices/query.
type queryIn struct {
	Query string `json:"query"`
}

// queryTwins answers one page of a query in IoT Hub's query language: a
// bare JSON array with x-ms-item-type ("twin" for SELECT *, "raw" for
// projections and aggregates, "deviceJob" for devices.jobs), and
// x-ms-continuation only when more pages follow (the Node SDK loops for
// ever on an empty one). The page size comes from x-ms-max-item-count; the
// hub clamps it.
func (s *Server) queryTwins(w http.ResponseWriter, r *http.Request, _ params) error {
	var in queryIn
	if err := decodeBody(w, r, MaxBodyBytes, `a query ({"query": "SELECT …"})`, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Query) == "" {
		return hub.Errorf(hub.CodeArgumentNull, `the query is empty; the body needs {"query": "SELECT * FROM devices"} or another query`)
	}
	opts := hub.QueryOptions{Continuation: r.Header.Get("x-ms-continuation")}
	if v := strings.TrimSpace(r.Header.Get("x-ms-max-item-count")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return hub.Errorf(hub.CodeArgumentInvalid, "x-ms-max-item-count must be a whole number of items, not %q", safeText(v, 20))
		}
		opts.PageSize = n
	}
	page, err := s.hub.Query(r.Context(), in.Query, opts)
	if err != nil {
		return err
	}
	items := page.Items
	if items == nil {
		items = []json.RawMessage{}
	}
	w.Header().Set("x-ms-item-type", page.ItemType)
	if page.Continuation != "" {
		w.Header().Set("x-ms-continuation", page.Continuation)
	}
	writeJSON(w, http.StatusOK, items)
	return nil
}

// methodIn is the body of a direct-method call (CloudToDeviceMethod).
type methodIn struct {
	MethodName               string          `json:"methodName"`
	Payload                  json.RawMessage `json:"payload"`
	ResponseTimeoutInSeconds int             `json:"responseTimeoutInSeconds"`
	ConnectTimeoutInSeconds  int             `json:"connectTimeoutInSeconds"`
}

// methodGrace is how long past the call's own timeouts the server waits
// for the device's answer before it answers 504 itself.
const methodGrace = 5 * time.Second

// invokeMethod calls a direct method through the hub's method router and
// answers 200 with the device's status and payload, whatever that status
// is. An offline device is 404 DeviceNotOnline, one that does not answer
// in time 504 GatewayTimeout.
func (s *Server) invokeMethod(w http.ResponseWriter, r *http.Request, p params) error {
	var in methodIn
	if err := decodeBody(w, r, MaxBodyBytes, "a direct-method call", &in); err != nil {
		return err
	}
	req := hub.MethodRequest{
		MethodName: in.MethodName, Payload: in.Payload,
		ResponseTimeoutInSeconds: in.ResponseTimeoutInSeconds, ConnectTimeoutInSeconds: in.ConnectTimeoutInSeconds,
	}
	wait := in.ResponseTimeoutInSeconds
	if wait <= 0 {
		wait = hub.DefaultMethodResponseTimeout
	}
	wait = min(wait, hub.MaxMethodResponseTimeout) + min(max(in.ConnectTimeoutInSeconds, 0), hub.MaxMethodConnectTimeout)
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(wait)*time.Second+methodGrace)
	defer cancel()
	var res *hub.MethodResult
	var err error
	if p.moduleID == "" {
		res, err = s.hub.InvokeDeviceMethod(ctx, p.deviceID, req)
	} else {
		res, err = s.hub.InvokeModuleMethod(ctx, p.deviceID, p.moduleID, req)
	}
	if err != nil {
		return err
	}
	payload := res.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	if !json.Valid(payload) {
		// The Node SDK calls a 502 a BadDeviceResponseError.
		return hub.Errorf(hub.CodeGenericBadGateway, "the device answered method %q with a payload that is not JSON", safeText(in.MethodName, 64))
	}
	writeJSON(w, http.StatusOK, hub.MethodResult{Status: res.Status, Payload: payload})
	return nil
}
