package hub

import "time"

// Device is a device identity in the registry, as the service API sends it
// (api-version 2021-04-12). Fields marked read-only are set by the hub.
type Device struct {
	DeviceID                   string                   `json:"deviceId"`
	GenerationID               string                   `json:"generationId,omitempty"` // read-only
	ETag                       string                   `json:"etag,omitempty"`         // read-only
	ConnectionState            string                   `json:"connectionState,omitempty"`
	Status                     Status                   `json:"status,omitempty"`
	StatusReason               string                   `json:"statusReason,omitempty"`
	ConnectionStateUpdatedTime time.Time                `json:"connectionStateUpdatedTime"`
	StatusUpdatedTime          time.Time                `json:"statusUpdatedTime"`
	LastActivityTime           time.Time                `json:"lastActivityTime"`
	CloudToDeviceMessageCount  int32                    `json:"cloudToDeviceMessageCount"`
	Authentication             *AuthenticationMechanism `json:"authentication,omitempty"`
	Capabilities               *DeviceCapabilities      `json:"capabilities,omitempty"`
	DeviceScope                string                   `json:"deviceScope,omitempty"`
	ParentScopes               []string                 `json:"parentScopes,omitempty"`
}

// Status is a device's registry status.
type Status string

// The two statuses a device can have. Modules have none.
const (
	StatusEnabled  Status = "enabled"
	StatusDisabled Status = "disabled"
)

// AuthType is the kind of credential an identity authenticates with.
type AuthType string

// The authentication types of the registry.
const (
	AuthSAS                  AuthType = "sas"
	AuthSelfSigned           AuthType = "selfSigned"
	AuthCertificateAuthority AuthType = "certificateAuthority"
	AuthNone                 AuthType = "none"
)

// AuthenticationMechanism is an identity's credential.
type AuthenticationMechanism struct {
	SymmetricKey   *SymmetricKey   `json:"symmetricKey,omitempty"`
	X509Thumbprint *X509Thumbprint `json:"x509Thumbprint,omitempty"`
	Type           AuthType        `json:"type"`
}

// SymmetricKey holds the two base64 SAS keys of an identity. Both are secrets.
type SymmetricKey struct {
	PrimaryKey   string `json:"primaryKey"`
	SecondaryKey string `json:"secondaryKey"`
}

// X509Thumbprint holds the certificate thumbprints of a selfSigned identity.
type X509Thumbprint struct {
	PrimaryThumbprint   *string `json:"primaryThumbprint"`
	SecondaryThumbprint *string `json:"secondaryThumbprint"`
}

// DeviceCapabilities says what a device can do beyond a plain device.
type DeviceCapabilities struct {
	IoTEdge bool `json:"iotEdge"`
}

// Module is a module identity on a device.
type Module struct {
	ModuleID                   string                   `json:"moduleId"`
	DeviceID                   string                   `json:"deviceId"`
	ManagedBy                  string                   `json:"managedBy,omitempty"`
	GenerationID               string                   `json:"generationId,omitempty"`
	ETag                       string                   `json:"etag,omitempty"`
	ConnectionState            string                   `json:"connectionState,omitempty"`
	ConnectionStateUpdatedTime time.Time                `json:"connectionStateUpdatedTime"`
	LastActivityTime           time.Time                `json:"lastActivityTime"`
	CloudToDeviceMessageCount  int32                    `json:"cloudToDeviceMessageCount"`
	Authentication             *AuthenticationMechanism `json:"authentication,omitempty"`
}

// RegistryStatistics counts the devices of a hub (modules not counted).
type RegistryStatistics struct {
	TotalDeviceCount    int64 `json:"totalDeviceCount"`
	EnabledDeviceCount  int64 `json:"enabledDeviceCount"`
	DisabledDeviceCount int64 `json:"disabledDeviceCount"`
}
