package hub

import "encoding/json"

// Direct-method limits.
const (
	MaxMethodPayloadBytes        = 128 * 1024
	DefaultMethodResponseTimeout = 30
	MinMethodResponseTimeout     = 5
	MaxMethodResponseTimeout     = 300
	MaxMethodConnectTimeout      = 300
)

// MethodRequest is a direct-method call (CloudToDeviceMethod on the wire).
type MethodRequest struct {
	MethodName string `json:"methodName"`
	// Payload is any JSON value; nil sends JSON null.
	Payload json.RawMessage `json:"payload,omitempty"`
	// ResponseTimeoutInSeconds is how long to wait for the device's answer
	// (5 to 300, 30 when zero); ConnectTimeoutInSeconds how long to wait
	// for an offline device to connect (0 to 300).
	ResponseTimeoutInSeconds int `json:"responseTimeoutInSeconds,omitempty"`
	ConnectTimeoutInSeconds  int `json:"connectTimeoutInSeconds,omitempty"`
}

// MethodResult is a device's answer to a direct method
// (CloudToDeviceMethodResult on the wire).
type MethodResult struct {
	Status  int             `json:"status"`
	Payload json.RawMessage `json:"payload"`
}
