package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

// readOnlyIdentity are the members of a device or module that the hub sets.
// Clients send them back as they read them (the SDKs put what they got
// from a GET), so a write body may hold them; they are ignored.
type readOnlyIdentity struct {
	GenerationID               json.RawMessage `json:"generationId"`
	ConnectionState            json.RawMessage `json:"connectionState"`
	ConnectionStateUpdatedTime json.RawMessage `json:"connectionStateUpdatedTime"`
	StatusUpdatedTime          json.RawMessage `json:"statusUpdatedTime"`
	LastActivityTime           json.RawMessage `json:"lastActivityTime"`
	CloudToDeviceMessageCount  json.RawMessage `json:"cloudToDeviceMessageCount"`
}

// deviceIn is the body of PUT /devices/{id}.
type deviceIn struct {
	DeviceID       string                       `json:"deviceId"`
	Status         hub.Status                   `json:"status"`
	StatusReason   string                       `json:"statusReason"`
	Authentication *hub.AuthenticationMechanism `json:"authentication"`
	Capabilities   *hub.DeviceCapabilities      `json:"capabilities"`
	DeviceScope    string                       `json:"deviceScope"`
	ParentScopes   []string                     `json:"parentScopes"`
	ETag           json.RawMessage              `json:"etag"` // If-Match is what counts
	readOnlyIdentity
}

// moduleIn is the body of PUT /devices/{id}/modules/{mid}.
type moduleIn struct {
	DeviceID       string                       `json:"deviceId"`
	ModuleID       string                       `json:"moduleId"`
	ManagedBy      string                       `json:"managedBy"`
	Authentication *hub.AuthenticationMechanism `json:"authentication"`
	ETag           json.RawMessage              `json:"etag"`
	readOnlyIdentity
}

// bulkIn is one entry of POST /devices. The Node SDK builds entries from
// device objects (deviceId renamed id, importMode added), so they may hold
// the read-only members of a device too, and "etag" spelt so.
type bulkIn struct {
	hub.ExportImportDevice
	readOnlyIdentity
}

// ifMatch returns the If-Match header and whether the request has one. A
// PUT without it is a create.
func ifMatch(r *http.Request) (string, bool) {
	v := r.Header.Values("If-Match")
	if len(v) == 0 {
		return "", false
	}
	return strings.TrimSpace(v[0]), true
}

// setETag sets the ETag header of an answer, quoted as HTTP wants it.
func setETag(w http.ResponseWriter, etag string) {
	if etag != "" {
		w.Header().Set("ETag", `"`+etag+`"`)
	}
}

// sameID checks that an ID in a body agrees with the path; an ID left out
// of the body is the path's.
func sameID(kind, body, path string) (string, error) {
	if body == "" || body == path {
		return path, nil
	}
	return "", hub.Errorf(hub.CodeArgumentInvalid, "the body's %s %q differs from the path's %q", kind, safeText(body, 130), path)
}

// listDevices answers GET /devices?top=N: up to N devices (1 to 1000;
// anything else means 1000), with their keys, in ID order. The list has no
// paging: the reference's way to read a whole registry is a query.
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, _ params) error {
	top := localhub.MaxDeviceList
	if v := r.URL.Query().Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return hub.Errorf(hub.CodeArgumentInvalid, "top must be a whole number, not %q", safeText(v, 20))
		}
		if n >= 1 && n <= localhub.MaxDeviceList {
			top = n
		}
	}
	devs, err := s.hub.Devices(r.Context(), top)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, devs)
	return nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, p params) error {
	d, err := s.hub.Device(r.Context(), p.deviceID)
	if err != nil {
		return err
	}
	setETag(w, d.ETag)
	writeJSON(w, http.StatusOK, d)
	return nil
}

// putDevice creates a device (no If-Match) or replaces its updatable
// fields (If-Match: an etag or "*"). Both answer 200: the Python SDK
// accepts nothing else.
func (s *Server) putDevice(w http.ResponseWriter, r *http.Request, p params) error {
	var in deviceIn
	if err := decodeBody(w, r, MaxBodyBytes, "a device", &in); err != nil {
		return err
	}
	id, err := sameID("deviceId", in.DeviceID, p.deviceID)
	if err != nil {
		return err
	}
	d := &hub.Device{
		DeviceID: id, Status: in.Status, StatusReason: in.StatusReason, Authentication: in.Authentication,
		Capabilities: in.Capabilities, DeviceScope: in.DeviceScope, ParentScopes: in.ParentScopes,
	}
	var out *hub.Device
	if etag, ok := ifMatch(r); ok {
		out, err = s.hub.UpdateDevice(r.Context(), d, etag)
	} else {
		out, err = s.hub.CreateDevice(r.Context(), d)
	}
	if err != nil {
		return err
	}
	setETag(w, out.ETag)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deleteDevice answers 204. A missing If-Match means "*": the SDKs always
// send one, and curl users should not need to.
func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request, p params) error {
	etag, ok := ifMatch(r)
	if !ok {
		etag = "*"
	}
	if err := s.hub.DeleteDevice(r.Context(), p.deviceID, etag); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listModules(w http.ResponseWriter, r *http.Request, p params) error {
	mods, err := s.hub.Modules(r.Context(), p.deviceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, mods)
	return nil
}

func (s *Server) getModule(w http.ResponseWriter, r *http.Request, p params) error {
	m, err := s.hub.Module(r.Context(), p.deviceID, p.moduleID)
	if err != nil {
		return err
	}
	setETag(w, m.ETag)
	writeJSON(w, http.StatusOK, m)
	return nil
}

// putModule creates or updates a module as putDevice does a device. The
// reference allows 200 or 201 on create; this hub always answers 200.
func (s *Server) putModule(w http.ResponseWriter, r *http.Request, p params) error {
	var in moduleIn
	if err := decodeBody(w, r, MaxBodyBytes, "a module", &in); err != nil {
		return err
	}
	deviceID, err := sameID("deviceId", in.DeviceID, p.deviceID)
	if err != nil {
		return err
	}
	moduleID, err := sameID("moduleId", in.ModuleID, p.moduleID)
	if err != nil {
		return err
	}
	m := &hub.Module{DeviceID: deviceID, ModuleID: moduleID, ManagedBy: in.ManagedBy, Authentication: in.Authentication}
	var out *hub.Module
	if etag, ok := ifMatch(r); ok {
		out, err = s.hub.UpdateModule(r.Context(), m, etag)
	} else {
		out, err = s.hub.CreateModule(r.Context(), m)
	}
	if err != nil {
		return err
	}
	setETag(w, out.ETag)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteModule(w http.ResponseWriter, r *http.Request, p params) error {
	etag, ok := ifMatch(r)
	if !ok {
		etag = "*"
	}
	if err := s.hub.DeleteModule(r.Context(), p.deviceID, p.moduleID, etag); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// bulkRegistry answers POST /devices: 200 with the result when every entry
// succeeded, 400 with the same result body when one failed (reference
// §1.1), and the usual error body when the call as a whole is refused.
func (s *Server) bulkRegistry(w http.ResponseWriter, r *http.Request, _ params) error {
	var in []bulkIn
	if err := decodeBody(w, r, MaxBulkBodyBytes, "an array of bulk registry entries", &in); err != nil {
		return err
	}
	if in == nil {
		return hub.Errorf(hub.CodeArgumentNull, "the request body is null; it needs an array of bulk registry entries")
	}
	entries := make([]hub.ExportImportDevice, len(in))
	for i := range in {
		entries[i] = in[i].ExportImportDevice
	}
	res, err := s.hub.BulkRegistry(r.Context(), entries)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !res.IsSuccessful {
		status = http.StatusBadRequest
		w.Header().Set("iothub-errorcode", hub.CodeBulkRegistryOperationFailed.Name)
	}
	writeJSON(w, status, res)
	return nil
}

func (s *Server) registryStatistics(w http.ResponseWriter, r *http.Request, _ params) error {
	st, err := s.hub.Statistics(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// serviceStatistics counts the devices connected through the device
// gateway; without one, none are.
func (s *Server) serviceStatistics(w http.ResponseWriter, r *http.Request, _ params) error {
	n, err := s.hub.ConnectedDevices(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		ConnectedDeviceCount int64 `json:"connectedDeviceCount"`
	}{n})
	return nil
}
