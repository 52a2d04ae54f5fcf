package hub

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ImportMode is what a bulk registry entry does to its identity.
type ImportMode string

// The import modes of the bulk registry call (POST /devices). The service
// compares them without regard to case; the Node SDK sends "Update",
// "Delete" and so on.
const (
	// ImportCreate registers the identity, with its twin's tags and desired
	// properties when the entry has them; it fails when the ID exists.
	ImportCreate ImportMode = "create"
	// ImportUpdate replaces the identity's updatable fields whatever its
	// etag; it fails when the identity does not exist.
	ImportUpdate ImportMode = "update"
	// ImportUpdateIfMatchETag is ImportUpdate when the entry's ETag
	// matches the identity's.
	ImportUpdateIfMatchETag ImportMode = "updateIfMatchETag"
	// ImportDelete removes the identity whatever its etag.
	ImportDelete ImportMode = "delete"
	// ImportDeleteIfMatchETag removes the identity when the entry's ETag
	// matches.
	ImportDeleteIfMatchETag ImportMode = "deleteIfMatchETag"
	// ImportUpdateTwin overwrites the twin's tags and desired properties
	// with those of the entry whatever the twin's etag.
	ImportUpdateTwin ImportMode = "updateTwin"
	// ImportUpdateTwinIfMatchETag is ImportUpdateTwin when the entry's
	// TwinETag matches the twin's.
	ImportUpdateTwinIfMatchETag ImportMode = "updateTwinIfMatchETag"
)

// importModes lists the modes in their canonical spelling.
var importModes = []ImportMode{
	ImportCreate, ImportUpdate, ImportUpdateIfMatchETag, ImportDelete,
	ImportDeleteIfMatchETag, ImportUpdateTwin, ImportUpdateTwinIfMatchETag,
}

// Canonical returns the mode in its canonical spelling ("Update" becomes
// "update"), or false when it is none of the bulk registry's modes.
func (m ImportMode) Canonical() (ImportMode, bool) {
	for _, k := range importModes {
		if strings.EqualFold(string(m), string(k)) {
			return k, true
		}
	}
	return "", false
}

// ExportImportDevice is one entry of a bulk registry call: an identity (a
// device, or a module when ModuleID is set) and what to do with it.
type ExportImportDevice struct {
	ID         string     `json:"id"`
	ModuleID   string     `json:"moduleId,omitempty"`
	ImportMode ImportMode `json:"importMode"`
	// ETag is the identity etag the *IfMatchETag modes compare; TwinETag
	// the twin etag ImportUpdateTwinIfMatchETag compares.
	ETag           string                   `json:"eTag,omitempty"`
	TwinETag       string                   `json:"twinETag,omitempty"`
	Status         Status                   `json:"status,omitempty"`
	StatusReason   string                   `json:"statusReason,omitempty"`
	Authentication *AuthenticationMechanism `json:"authentication,omitempty"`
	Capabilities   *DeviceCapabilities      `json:"capabilities,omitempty"`
	DeviceScope    string                   `json:"deviceScope,omitempty"`
	ParentScopes   []string                 `json:"parentScopes,omitempty"`
	// Tags and Properties.Desired seed the twin of a created identity and
	// are what the updateTwin modes write.
	Tags       map[string]any     `json:"tags,omitempty"`
	Properties *PropertyContainer `json:"properties,omitempty"`
}

// PropertyContainer holds the desired and reported properties of a bulk
// entry. The service writes only desired properties; reported ones belong
// to devices.
type PropertyContainer struct {
	Desired  map[string]any `json:"desired,omitempty"`
	Reported map[string]any `json:"reported,omitempty"`
}

// BulkRegistryOperationResult is the answer to a bulk registry call. The
// entries that failed are in Errors; the others were carried out, since a
// bulk call is not atomic.
type BulkRegistryOperationResult struct {
	IsSuccessful bool                             `json:"isSuccessful"`
	Errors       []DeviceRegistryOperationError   `json:"errors"`
	Warnings     []DeviceRegistryOperationWarning `json:"warnings"`
}

// DeviceRegistryOperationError is the failure of one bulk entry.
type DeviceRegistryOperationError struct {
	DeviceID string `json:"deviceId"`
	ModuleID string `json:"moduleId,omitempty"`
	// ErrorCode is the name of an IoT Hub error code, such as
	// "DeviceAlreadyExists". A hub that sends the six-digit number instead
	// is read as the number's name, or as the number in decimal when the
	// name is not known.
	ErrorCode   string `json:"errorCode"`
	ErrorStatus string `json:"errorStatus"`
	Operation   string `json:"operation,omitempty"`
}

// UnmarshalJSON reads an entry error whose errorCode is a name, a number or
// a number in a string.
func (e *DeviceRegistryOperationError) UnmarshalJSON(b []byte) error {
	type plain DeviceRegistryOperationError
	var w struct {
		plain
		ErrorCode json.RawMessage `json:"errorCode"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = DeviceRegistryOperationError(w.plain)
	code, err := errorCodeText(w.ErrorCode)
	if err != nil {
		return fmt.Errorf("bulk registry error of %q: errorCode: %w", e.DeviceID, err)
	}
	e.ErrorCode = code
	return nil
}

// errorCodeText turns a JSON errorCode (a name, a number, or either in a
// string) into a name where one is known.
func errorCodeText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("neither a name nor a number")
		}
		s = n.String()
	}
	if n, err := strconv.Atoi(s); err == nil {
		if c, ok := LookupErrorNumber(n); ok {
			return c.Name, nil
		}
	}
	return s, nil
}

// Code returns the entry's error code, with its number when the name is
// known.
func (e *DeviceRegistryOperationError) Code() ErrorCode {
	if c, ok := LookupErrorName(e.ErrorCode); ok {
		return c
	}
	return ErrorCode{Name: e.ErrorCode}
}

// DeviceRegistryOperationWarning is a warning about one bulk entry.
type DeviceRegistryOperationWarning struct {
	DeviceID      string `json:"deviceId"`
	WarningCode   string `json:"warningCode"`
	WarningStatus string `json:"warningStatus"`
}
