package gateway

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The cases cite reference/iothub-mqtt-device.md by section; [wire] marks
// topics captured from the Node SDK.
func TestParseTopic(t *testing.T) {
	tests := map[string]struct {
		topic string
		want  Topic
		canon string // String() when it differs from topic
	}{
		"telemetry, empty bag (§6)": {
			topic: "devices/dev-1/messages/events/",
			want:  Topic{Kind: Telemetry, DeviceID: "dev-1"},
		},
		"telemetry without trailing slash": {
			topic: "devices/dev-1/messages/events",
			want:  Topic{Kind: Telemetry, DeviceID: "dev-1"},
			canon: "devices/dev-1/messages/events/",
		},
		"telemetry with the Node SDK's bag (§7 [wire])": {
			topic: "devices/conf-dev/messages/events/%24.mid=conf-msg-1&%24.cid=c-1&%24.ct=application%2Fjson&%24.ce=utf-8&conformance=conf&with%20space=a%26b%3Dc",
			want: Topic{Kind: Telemetry, DeviceID: "conf-dev",
				Bag: "%24.mid=conf-msg-1&%24.cid=c-1&%24.ct=application%2Fjson&%24.ce=utf-8&conformance=conf&with%20space=a%26b%3Dc"},
		},
		"module output with Node's trailing slash (§6)": {
			topic: "devices/d/modules/m/messages/events/%24.on=out1/",
			want:  Topic{Kind: Telemetry, DeviceID: "d", ModuleID: "m", Bag: "%24.on=out1/"},
		},
		"device ID with IoT Hub's special characters (§6)": {
			topic: "devices/a:b.c@d$e/messages/events/",
			want:  Topic{Kind: Telemetry, DeviceID: "a:b.c@d$e"},
		},
		"cloud-to-device as Azure sends it (§7)": {
			topic: "devices/d/messages/devicebound/%24.mid=1&%24.to=%2Fdevices%2Fd%2Fmessages%2Fdevicebound&iothub-ack=none",
			want:  Topic{Kind: C2D, DeviceID: "d", Bag: "%24.mid=1&%24.to=%2Fdevices%2Fd%2Fmessages%2Fdevicebound&iothub-ack=none"},
		},
		"twin GET (§6)": {
			topic: "$iothub/twin/GET/?$rid=42",
			want:  Topic{Kind: TwinGet, RequestID: "42"},
		},
		"twin GET without '/' before '?'": {
			topic: "$iothub/twin/GET?$rid=7",
			want:  Topic{Kind: TwinGet, RequestID: "7"},
			canon: "$iothub/twin/GET/?$rid=7",
		},
		"twin GET with a uuid rid and an unknown parameter": {
			topic: "$iothub/twin/GET/?$rid=5bd1c1a0-1c1e-4b3f-9e1c-2b0d7a2c9f10&x=1",
			want:  Topic{Kind: TwinGet, RequestID: "5bd1c1a0-1c1e-4b3f-9e1c-2b0d7a2c9f10"},
			canon: "$iothub/twin/GET/?$rid=5bd1c1a0-1c1e-4b3f-9e1c-2b0d7a2c9f10",
		},
		"twin GET response (§6)": {
			topic: "$iothub/twin/res/200/?$rid=42",
			want:  Topic{Kind: TwinResponse, Status: 200, RequestID: "42"},
		},
		"reported PATCH (§6)": {
			topic: "$iothub/twin/PATCH/properties/reported/?$rid=43",
			want:  Topic{Kind: ReportedPatch, RequestID: "43"},
		},
		"reported PATCH response with $version (§6)": {
			topic: "$iothub/twin/res/204/?$rid=43&$version=5",
			want:  Topic{Kind: TwinResponse, Status: 204, RequestID: "43", Version: 5},
		},
		"desired notification (§6)": {
			topic: "$iothub/twin/PATCH/properties/desired/?$version=12",
			want:  Topic{Kind: DesiredPatch, Version: 12},
		},
		"method request (§6)": {
			topic: "$iothub/methods/POST/SampleMethod/?$rid=1",
			want:  Topic{Kind: MethodRequest, Method: "SampleMethod", RequestID: "1"},
		},
		"method response (§6)": {
			topic: "$iothub/methods/res/201/?$rid=1",
			want:  Topic{Kind: MethodResponse, Status: 201, RequestID: "1"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseTopic(tt.topic)
			if err != nil {
				t.Fatalf("ParseTopic(%q): %v", tt.topic, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseTopic(%q) mismatch (-want +got):\n%s", tt.topic, d)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.topic
			}
			if s := got.String(); s != canon {
				t.Errorf("String() = %q, want %q", s, canon)
			}
		})
	}
}

func TestParseTopicErrors(t *testing.T) {
	for name, topic := range map[string]string{
		"another prefix":              "foo/bar",
		"empty device ID":             "devices//messages/events/",
		"device ID with a space":      "devices/a b/messages/events/",
		"unknown devices/ topic":      "devices/d/messages/other/",
		"module C2D does not exist":   "devices/d/modules/m/messages/devicebound/x",
		"twin GET without $rid":       "$iothub/twin/GET/",
		"reported PATCH without $rid": "$iothub/twin/PATCH/properties/reported/",
		"method response, no status":  "$iothub/methods/res//?$rid=1",
		"method response, bad status": "$iothub/methods/res/2x0/?$rid=1",
		"desired without $version":    "$iothub/twin/PATCH/properties/desired/",
		"desired, bad $version":       "$iothub/twin/PATCH/properties/desired/?$version=-1",
		"unknown $iothub topic":       "$iothub/twin/DELETE/?$rid=1",
		"rid with a wildcard":         "$iothub/twin/GET/?$rid=1#",
		"method name empty":           "$iothub/methods/POST//?$rid=1",
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := ParseTopic(topic); !errors.Is(err, ErrTopic) {
				t.Errorf("ParseTopic(%q) = %+v, %v; want an ErrTopic", topic, got, err)
			}
		})
	}
}

// Filters a device may subscribe to (§6) and what they are for.
func TestParseFilter(t *testing.T) {
	type result struct {
		Sub            Subscription
		Device, Module string
		Err            bool
	}
	tests := map[string]struct {
		filter string
		want   result
	}{
		"twin responses":       {"$iothub/twin/res/#", result{Sub: SubTwinResponses}},
		"desired":              {"$iothub/twin/PATCH/properties/desired/#", result{Sub: SubDesired}},
		"methods":              {"$iothub/methods/POST/#", result{Sub: SubMethods}},
		"c2d":                  {"devices/d1/messages/devicebound/#", result{Sub: SubC2D, Device: "d1"}},
		"module inputs (Node)": {"devices/d1/modules/m1/inputs/#", result{Sub: SubModuleInputs, Device: "d1", Module: "m1"}},
		"module (docs)":        {"devices/d1/modules/m1/#", result{Sub: SubModuleInputs, Device: "d1", Module: "m1"}},
		"everything":           {"#", result{Err: true}},
		"all twin topics":      {"$iothub/twin/#", result{Err: true}},
		"plus wildcard":        {"devices/+/messages/devicebound/#", result{Err: true}},
		"telemetry":            {"devices/d1/messages/events/#", result{Err: true}},
		"a method":             {"$iothub/methods/POST/reboot", result{Err: true}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			sub, d, m, err := ParseFilter(tt.filter)
			got := result{Sub: sub, Device: d, Module: m, Err: err != nil}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseFilter(%q) mismatch (-want +got):\n%s", tt.filter, d)
			}
		})
	}
}

func TestValidMethodName(t *testing.T) {
	for name, ok := range map[string]bool{
		"reboot": true, "Sample Method": true, "firmware.update-v2": true,
		"": false, "a/b": false, "a?b": false, "a#": false, "a+b": false, "a\nb": false,
	} {
		if got := ValidMethodName(name); got != ok {
			t.Errorf("ValidMethodName(%q) = %v, want %v", name, got, ok)
		}
	}
}
