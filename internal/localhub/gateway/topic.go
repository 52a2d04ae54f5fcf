package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
)

// Kind says what an IoT Hub topic is for (reference/iothub-mqtt-device.md §6).
type Kind int

// The topics of the device protocol. The arrow gives the direction.
const (
	// Telemetry: devices/{d}/messages/events/{bag}, or from a module
	// devices/{d}/modules/{m}/messages/events/{bag}. Device → hub.
	Telemetry Kind = iota + 1
	// C2D: devices/{d}/messages/devicebound/{bag}. Hub → device.
	C2D
	// TwinGet: $iothub/twin/GET/?$rid={rid}. Device → hub.
	TwinGet
	// TwinResponse: $iothub/twin/res/{status}/?$rid={rid}[&$version={v}].
	// Hub → device.
	TwinResponse
	// ReportedPatch: $iothub/twin/PATCH/properties/reported/?$rid={rid}.
	// Device → hub.
	ReportedPatch
	// DesiredPatch: $iothub/twin/PATCH/properties/desired/?$version={v}.
	// Hub → device.
	DesiredPatch
	// MethodRequest: $iothub/methods/POST/{method}/?$rid={rid}. Hub → device.
	MethodRequest
	// MethodResponse: $iothub/methods/res/{status}/?$rid={rid}. Device → hub.
	MethodResponse
)

func (k Kind) String() string {
	switch k {
	case Telemetry:
		return "telemetry"
	case C2D:
		return "cloud-to-device"
	case TwinGet:
		return "twin GET"
	case TwinResponse:
		return "twin response"
	case ReportedPatch:
		return "reported PATCH"
	case DesiredPatch:
		return "desired PATCH"
	case MethodRequest:
		return "method request"
	case MethodResponse:
		return "method response"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Topic is a parsed topic name of the device protocol. Which fields are set
// depends on Kind.
type Topic struct {
	Kind     Kind
	DeviceID string // Telemetry, C2D
	ModuleID string // Telemetry sent by a module
	// Bag is the property bag of Telemetry and C2D exactly as on the wire
	// (still URL-encoded); ParsePropertyBag decodes it.
	Bag string
	// RequestID is $rid, kept as sent: it is opaque and echoed back.
	RequestID string
	Status    int    // TwinResponse, MethodResponse
	Method    string // MethodRequest
	// Version is $version: of desired properties in DesiredPatch, of
	// reported properties in TwinResponse (0 when the response has none).
	Version int64
}

// ErrTopic is the error of every topic that is not one of the protocol's.
var ErrTopic = errors.New("not an IoT Hub device topic")

func topicError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTopic, fmt.Sprintf(format, args...))
}

// ParseTopic parses a topic name of the device protocol, in either
// direction. It is lenient where SDKs differ (reference §6: a missing '/'
// before '?', unknown query parameters, a telemetry topic without its
// trailing '/') and strict about identities: device and module IDs must be
// valid, and requests must carry a $rid.
func ParseTopic(name string) (Topic, error) {
	if rest, ok := strings.CutPrefix(name, "$iothub/"); ok {
		return parseIoTHubTopic(rest)
	}
	if rest, ok := strings.CutPrefix(name, "devices/"); ok {
		return parseDevicesTopic(rest)
	}
	return Topic{}, topicError("it starts with neither devices/ nor $iothub/")
}

// parseDevicesTopic parses what follows "devices/". Device and module IDs
// cannot contain '/', so the segments are fixed; the bag is everything after
// the last fixed segment (Node takes everything after the 4th '/').
func parseDevicesTopic(rest string) (Topic, error) {
	deviceID, rest, _ := strings.Cut(rest, "/")
	if err := topicID(deviceID); err != nil {
		return Topic{}, topicError("device ID: %v", err)
	}
	t := Topic{DeviceID: deviceID}
	if r, ok := strings.CutPrefix(rest, "modules/"); ok {
		moduleID, r, _ := strings.Cut(r, "/")
		if err := topicID(moduleID); err != nil {
			return Topic{}, topicError("module ID: %v", err)
		}
		t.ModuleID = moduleID
		rest = r
	}
	switch {
	case rest == "messages/events":
		t.Kind = Telemetry
	case strings.HasPrefix(rest, "messages/events/"):
		t.Kind, t.Bag = Telemetry, strings.TrimPrefix(rest, "messages/events/")
	case t.ModuleID == "" && strings.HasPrefix(rest, "messages/devicebound/"):
		t.Kind, t.Bag = C2D, strings.TrimPrefix(rest, "messages/devicebound/")
	default:
		return Topic{}, topicError("unknown devices/ topic")
	}
	return t, nil
}

// topicID checks an ID in a topic name or filter: a valid IoT Hub ID
// without the MQTT wildcards '+' and '#', which IoT Hub allows in IDs but
// MQTT does not allow in topic names (an identity with one cannot use
// MQTT).
func topicID(id string) error {
	if err := hub.ValidateID(id); err != nil {
		return err
	}
	if strings.ContainsAny(id, "+#") {
		return errors.New("it contains an MQTT wildcard (+ or #)")
	}
	return nil
}

// parseIoTHubTopic parses what follows "$iothub/". Its path segments never
// contain '?' (method names with one are refused), so the query starts at
// the first '?'.
func parseIoTHubTopic(rest string) (Topic, error) {
	path, query, _ := strings.Cut(rest, "?")
	path = strings.TrimSuffix(path, "/")
	var t Topic
	var hasRID, hasVersion bool
	for _, p := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "$rid":
			t.RequestID, hasRID = v, true
		case "$version":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return Topic{}, topicError("$version %q is not a version number", v)
			}
			t.Version, hasVersion = n, true
		}
	}
	seg := strings.Split(path, "/")
	switch {
	case path == "twin/GET":
		t.Kind = TwinGet
	case len(seg) == 3 && seg[0] == "twin" && seg[1] == "res":
		t.Kind = TwinResponse
	case path == "twin/PATCH/properties/reported":
		t.Kind = ReportedPatch
	case path == "twin/PATCH/properties/desired":
		t.Kind = DesiredPatch
	case len(seg) == 3 && seg[0] == "methods" && seg[1] == "POST":
		t.Kind, t.Method = MethodRequest, seg[2]
		if !ValidMethodName(t.Method) {
			return Topic{}, topicError("method name %q", t.Method)
		}
	case len(seg) == 3 && seg[0] == "methods" && seg[1] == "res":
		t.Kind = MethodResponse
	default:
		return Topic{}, topicError("unknown $iothub/ topic")
	}
	if t.Kind == TwinResponse || t.Kind == MethodResponse {
		n, err := strconv.Atoi(seg[2])
		if err != nil || n < 0 || n > 999 || len(seg[2]) > 3 {
			return Topic{}, topicError("status %q is not a status code", seg[2])
		}
		t.Status = n
	}
	switch t.Kind {
	case DesiredPatch:
		if !hasVersion {
			return Topic{}, topicError("a desired PATCH needs $version")
		}
	default:
		if !hasRID {
			return Topic{}, topicError("a %s needs $rid", t.Kind)
		}
		if strings.ContainsAny(t.RequestID, "#+") {
			return Topic{}, topicError("$rid contains a wildcard character")
		}
		if t.Kind != TwinResponse {
			t.Version = 0
		}
	}
	return t, nil
}

// ValidMethodName reports whether a direct method name can travel in a
// method request topic: not empty, at most 1024 bytes, printable, and free
// of the characters that delimit topic segments, queries and wildcards.
func ValidMethodName(name string) bool {
	if name == "" || len(name) > 1024 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '+' {
			return false
		}
	}
	return true
}

// String returns the topic name in the form IoT Hub sends and the SDKs
// send: with the '/' before '?', and $rid before $version.
func (t Topic) String() string {
	switch t.Kind {
	case Telemetry:
		if t.ModuleID != "" {
			return "devices/" + t.DeviceID + "/modules/" + t.ModuleID + "/messages/events/" + t.Bag
		}
		return "devices/" + t.DeviceID + "/messages/events/" + t.Bag
	case C2D:
		return "devices/" + t.DeviceID + "/messages/devicebound/" + t.Bag
	case TwinGet:
		return "$iothub/twin/GET/?$rid=" + t.RequestID
	case TwinResponse:
		s := "$iothub/twin/res/" + strconv.Itoa(t.Status) + "/?$rid=" + t.RequestID
		if t.Version != 0 {
			s += "&$version=" + strconv.FormatInt(t.Version, 10)
		}
		return s
	case ReportedPatch:
		return "$iothub/twin/PATCH/properties/reported/?$rid=" + t.RequestID
	case DesiredPatch:
		return "$iothub/twin/PATCH/properties/desired/?$version=" + strconv.FormatInt(t.Version, 10)
	case MethodRequest:
		return "$iothub/methods/POST/" + t.Method + "/?$rid=" + t.RequestID
	case MethodResponse:
		return "$iothub/methods/res/" + strconv.Itoa(t.Status) + "/?$rid=" + t.RequestID
	}
	return ""
}

// Subscription is what a topic filter a device subscribes to is for.
type Subscription int

// The topic filters a device or module may subscribe to (reference §6).
const (
	// SubC2D: devices/{d}/messages/devicebound/#, devices only.
	SubC2D Subscription = iota + 1
	// SubModuleInputs: devices/{d}/modules/{m}/inputs/# (Node) or
	// devices/{d}/modules/{m}/# (the documentation), modules only.
	SubModuleInputs
	// SubTwinResponses: $iothub/twin/res/#.
	SubTwinResponses
	// SubDesired: $iothub/twin/PATCH/properties/desired/#.
	SubDesired
	// SubMethods: $iothub/methods/POST/#.
	SubMethods
)

// The filters that carry no identity.
const (
	filterTwinResponses = "$iothub/twin/res/#"
	filterDesired       = "$iothub/twin/PATCH/properties/desired/#"
	filterMethods       = "$iothub/methods/POST/#"
)

// ParseFilter parses a SUBSCRIBE topic filter. Only the documented filters
// are accepted, wildcards only as their trailing '#'. deviceID and moduleID
// are set for the devices/ filters.
func ParseFilter(filter string) (sub Subscription, deviceID, moduleID string, err error) {
	switch filter {
	case filterTwinResponses:
		return SubTwinResponses, "", "", nil
	case filterDesired:
		return SubDesired, "", "", nil
	case filterMethods:
		return SubMethods, "", "", nil
	}
	rest, ok := strings.CutPrefix(filter, "devices/")
	if !ok {
		return 0, "", "", topicError("filter %q is not one IoT Hub accepts", filter)
	}
	deviceID, rest, _ = strings.Cut(rest, "/")
	if topicID(deviceID) != nil {
		return 0, "", "", topicError("filter has an invalid device ID")
	}
	if rest == "messages/devicebound/#" {
		return SubC2D, deviceID, "", nil
	}
	rest, ok = strings.CutPrefix(rest, "modules/")
	if !ok {
		return 0, "", "", topicError("filter %q is not one IoT Hub accepts", filter)
	}
	moduleID, rest, _ = strings.Cut(rest, "/")
	if topicID(moduleID) != nil {
		return 0, "", "", topicError("filter has an invalid module ID")
	}
	if rest == "inputs/#" || rest == "#" {
		return SubModuleInputs, deviceID, moduleID, nil
	}
	return 0, "", "", topicError("filter %q is not one IoT Hub accepts", filter)
}
