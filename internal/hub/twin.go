package hub

import (
	"strings"
	"time"
)

// Twin is a device or module twin as the service API sends it: the identity's
// projection, the tags, and the desired and reported property collections.
type Twin struct {
	DeviceID                  string              `json:"deviceId"`
	ModuleID                  string              `json:"moduleId,omitempty"`
	ManagedBy                 string              `json:"managedBy,omitempty"` // module twins only
	ModelID                   string              `json:"modelId"`
	ETag                      string              `json:"etag"`
	DeviceETag                string              `json:"deviceEtag"`
	Status                    Status              `json:"status,omitempty"`
	StatusReason              string              `json:"statusReason,omitempty"`
	StatusUpdateTime          time.Time           `json:"statusUpdateTime"`
	ConnectionState           string              `json:"connectionState"`
	LastActivityTime          time.Time           `json:"lastActivityTime"`
	CloudToDeviceMessageCount int32               `json:"cloudToDeviceMessageCount"`
	AuthenticationType        AuthType            `json:"authenticationType"`
	X509Thumbprint            X509Thumbprint      `json:"x509Thumbprint"`
	Version                   int64               `json:"version"`
	Capabilities              *DeviceCapabilities `json:"capabilities,omitempty"`
	DeviceScope               string              `json:"deviceScope,omitempty"`
	ParentScopes              []string            `json:"parentScopes,omitempty"`
	Tags                      map[string]any      `json:"tags,omitempty"`
	Properties                TwinProperties      `json:"properties"`
	// Configurations has an entry for each automatic configuration that
	// targets the twin; it is set by the hub only.
	Configurations map[string]TwinConfiguration `json:"configurations,omitempty"`
}

// TwinProperties holds the desired and reported collections of a twin.
type TwinProperties struct {
	Desired  TwinCollection `json:"desired"`
	Reported TwinCollection `json:"reported"`
}

// TwinCollection is a desired or reported property collection as it is on the
// wire: the properties themselves plus the reserved "$version" and "$metadata"
// members. Values are JSON values decoded by encoding/json (string, float64,
// bool, []any, map[string]any).
type TwinCollection map[string]any

// Properties returns the collection without its reserved "$" members. The
// result shares nested values with c.
func (c TwinCollection) Properties() map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		if strings.HasPrefix(k, "$") {
			continue
		}
		out[k] = v
	}
	return out
}

// Version returns the collection's "$version", or 0 when it has none.
func (c TwinCollection) Version() int64 {
	switch v := c["$version"].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

// TwinPatch is a partial twin update: tags and desired properties are merged
// into the twin recursively, and a key whose value is nil is removed.
// A nil map leaves its section alone.
type TwinPatch struct {
	Tags    map[string]any
	Desired map[string]any
}

// TwinPatchBody is the JSON body of a twin PATCH or PUT.
type TwinPatchBody struct {
	Tags       map[string]any       `json:"tags,omitempty"`
	Properties *TwinPatchProperties `json:"properties,omitempty"`
}

// TwinPatchProperties is the properties member of a TwinPatchBody.
type TwinPatchProperties struct {
	Desired map[string]any `json:"desired,omitempty"`
}

// Body returns the patch as the service API's JSON body.
func (p TwinPatch) Body() TwinPatchBody {
	b := TwinPatchBody{Tags: p.Tags}
	if p.Desired != nil {
		b.Properties = &TwinPatchProperties{Desired: p.Desired}
	}
	return b
}
