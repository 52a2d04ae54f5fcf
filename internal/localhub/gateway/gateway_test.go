package gateway

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/device"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

func TestConnect(t *testing.T) {
	for name, opts := range map[string][]envOption{"tls": nil, "plain": {plain()}} {
		t.Run(name, func(t *testing.T) {
			e := start(t, opts...)
			ctx := context.Background()
			c := e.connectDevice(t, "dev-1")
			e.waitFor(t, "the session", func() bool { return e.live("dev-1") })
			d, err := e.h.Device(ctx, "dev-1")
			if err != nil {
				t.Fatal(err)
			}
			if d.ConnectionState != localhub.Connected || d.LastActivityTime.IsZero() {
				t.Errorf("after connect: connectionState %q, lastActivityTime %v", d.ConnectionState, d.LastActivityTime)
			}
			c.Close()
			e.waitFor(t, "the disconnection", func() bool { return !e.live("dev-1") })
			if d, _ := e.h.Device(ctx, "dev-1"); d.ConnectionState != localhub.Disconnected {
				t.Errorf("after close: connectionState %q", d.ConnectionState)
			}
		})
	}
}

// Every authentication failure is CONNACK 5 (reference §4); malformed
// credentials are 4, a malformed client ID 2, another protocol level 1.
func TestConnectRefused(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	dev := e.createDevice(t, "dev", nil)
	other := e.createDevice(t, "other", nil)
	off := e.createDevice(t, "off", nil)
	off.Status = hub.StatusDisabled
	if _, err := e.h.UpdateDevice(ctx, off, "*"); err != nil {
		t.Fatal(err)
	}
	e.createModule(t, "dev", "mod")
	policies, err := e.h.Policies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	service := hub.FindPolicy(policies, "service")
	key := dev.Authentication.SymmetricKey.PrimaryKey
	otherKey := other.Authentication.SymmetricKey.PrimaryKey
	later := time.Now().Add(time.Hour)

	tests := map[string]struct {
		clientID, username, password string
		protocol                     uint
		want                         byte
	}{
		"unknown device": {
			clientID: "ghost", username: username("ghost"),
			password: token(t, "localhost/devices/ghost", key, "", later), want: 5,
		},
		"disabled device": {
			clientID: "off", username: username("off"),
			password: token(t, "localhost/devices/off", off.Authentication.SymmetricKey.PrimaryKey, "", later), want: 5,
		},
		"wrong key": {
			clientID: "dev", username: username("dev"),
			password: token(t, "localhost/devices/dev", otherKey, "", later), want: 5,
		},
		"expired token": {
			clientID: "dev", username: username("dev"),
			password: token(t, "localhost/devices/dev", key, "", time.Now().Add(-time.Hour)), want: 5,
		},
		"token for another device": {
			clientID: "dev", username: username("dev"),
			password: token(t, "localhost/devices/other", otherKey, "", later), want: 5,
		},
		"token for another hub": {
			clientID: "dev", username: username("dev"),
			password: token(t, "elsewhere/devices/dev", key, "", later), want: 5,
		},
		"client ID and username disagree": {
			clientID: "dev", username: username("other"),
			password: token(t, "localhost/devices/dev", key, "", later), want: 5,
		},
		"username names another hub": {
			clientID: "dev", username: "elsewhere/dev/?api-version=2021-04-12",
			password: token(t, "localhost/devices/dev", key, "", later), want: 5,
		},
		"device key used for its module": {
			clientID: "dev/mod", username: "localhost/dev/mod/?api-version=2021-04-12",
			password: token(t, "localhost/devices/dev/modules/mod", key, "", later), want: 5,
		},
		"policy without DeviceConnect": {
			clientID: "dev", username: username("dev"),
			password: token(t, "localhost/devices/dev", service.PrimaryKey, "service", later), want: 5,
		},
		"no credential at all": {
			clientID: "dev", username: username("dev"), want: 5,
		},
		"password that is not a token": {
			clientID: "dev", username: username("dev"), password: "hunter2", want: 4,
		},
		"username that is not IoT Hub's": {
			clientID: "dev", username: "dev", password: token(t, "localhost/devices/dev", key, "", later), want: 4,
		},
		"client ID that is not an ID": {
			clientID: "dev with spaces", username: username("dev with spaces"), want: 2,
		},
		"MQTT 3.1": {
			clientID: "dev", username: username("dev"), protocol: 3,
			password: token(t, "localhost/devices/dev", key, "", later), want: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, rc := e.rawConnect(t, tt.clientID, tt.username, tt.password, func(o *paho.ClientOptions) {
				if tt.protocol != 0 {
					o.SetProtocolVersion(tt.protocol)
				}
			})
			if rc != tt.want {
				t.Errorf("CONNACK return code = %d, want %d", rc, tt.want)
			}
		})
	}

	// The device client reports a refusal as ErrNotAuthorized.
	cfg := e.deviceConfig("dev", otherKey)
	if _, err := e.connect(t, cfg); !errors.Is(err, device.ErrNotAuthorized) {
		t.Errorf("device.Connect with a wrong key: err = %v, want ErrNotAuthorized", err)
	}
	if d, _ := e.h.Device(ctx, "dev"); d.ConnectionState == localhub.Connected {
		t.Error("a refused device is recorded as connected")
	}
}

// A policy key with DeviceConnect signs tokens for any device (reference
// §3), and old-style usernames are accepted (reference §2).
func TestConnectAccepted(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	dev := e.createDevice(t, "dev", nil)
	policies, err := e.h.Policies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owner := hub.FindPolicy(policies, "iothubowner")
	later := time.Now().Add(time.Hour)
	for name, tt := range map[string]struct{ username, password string }{
		"policy token for the device":   {username("dev"), token(t, "localhost/devices/dev", owner.SecondaryKey, "iothubowner", later)},
		"policy token for all devices":  {username("dev"), token(t, "localhost/devices", owner.PrimaryKey, "iothubowner", later)},
		"secondary key":                 {username("dev"), token(t, "localhost/devices/dev", dev.Authentication.SymmetricKey.SecondaryKey, "", later)},
		"old-style username":            {"localhost/dev/api-version=2016-11-14", token(t, "localhost/devices/dev", dev.Authentication.SymmetricKey.PrimaryKey, "", later)},
		"Node's username, port in host": {"LOCALHOST:8883/dev/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4", token(t, "localhost:8883/devices/dev", dev.Authentication.SymmetricKey.PrimaryKey, "", later)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, rc := e.rawConnect(t, "dev", tt.username, tt.password, nil); rc != 0 {
				t.Errorf("CONNACK return code = %d, want 0", rc)
			}
		})
	}
}

// A refused attempt leaves the live connection alone; an accepted one
// takes it over (reference §5).
func TestOneConnectionPerIdentity(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	d := e.createDevice(t, "dev", nil)
	key := d.Authentication.SymmetricKey.PrimaryKey
	first, rc := e.rawConnect(t, "dev", username("dev"), token(t, "localhost/devices/dev", key, "", time.Now().Add(time.Hour)), nil)
	if rc != 0 {
		t.Fatalf("first connection refused: %d", rc)
	}
	e.waitFor(t, "the first session", func() bool { return e.live("dev") })
	if _, rc := e.rawConnect(t, "dev", username("dev"), "SharedAccessSignature sr=localhost%2Fdevices%2Fdev&sig=AAAA&se=9999999999", nil); rc != 5 {
		t.Fatalf("forged token: return code %d, want 5", rc)
	}
	if !first.pc.IsConnectionOpen() {
		t.Fatal("a refused attempt closed the live connection")
	}
	second := e.mustConnect(t, e.deviceConfig("dev", key))
	first.waitLost(t)
	if _, err := second.Twin(ctx); err != nil {
		t.Fatalf("the new connection does not work: %v", err)
	}
	if d, _ := e.h.Device(ctx, "dev"); d.ConnectionState != localhub.Connected {
		t.Errorf("after the takeover: connectionState %q", d.ConnectionState)
	}
}

// A device may use only its own topics; anything else closes its
// connection, as IoT Hub does (reference §5).
func TestTopicAuthorization(t *testing.T) {
	e := start(t)
	events := e.g.Events(0)
	defer events.Close()
	d := e.createDevice(t, "dev", nil)
	e.createDevice(t, "victim", nil)
	pass := func() string {
		return token(t, "localhost/devices/dev", d.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour))
	}
	for name, act := range map[string]func(paho.Client) paho.Token{
		"subscribe to another device's C2D": func(c paho.Client) paho.Token {
			return c.Subscribe("devices/victim/messages/devicebound/#", 1, nil)
		},
		"subscribe to everything": func(c paho.Client) paho.Token { return c.Subscribe("#", 0, nil) },
		"subscribe to a module's inputs": func(c paho.Client) paho.Token {
			return c.Subscribe("devices/dev/modules/m/inputs/#", 1, nil)
		},
		"publish as another device": func(c paho.Client) paho.Token {
			return c.Publish("devices/victim/messages/events/", 1, false, "spoofed")
		},
		"publish at QoS 0 as another device": func(c paho.Client) paho.Token {
			return c.Publish("devices/victim/messages/events/", 0, false, "spoofed")
		},
		"publish to a C2D topic": func(c paho.Client) paho.Token {
			return c.Publish("devices/dev/messages/devicebound/x=1", 1, false, "loop")
		},
		"publish a method request": func(c paho.Client) paho.Token {
			return c.Publish("$iothub/methods/POST/reboot/?$rid=1", 0, false, "{}")
		},
		"publish at QoS 2": func(c paho.Client) paho.Token {
			return c.Publish("devices/dev/messages/events/", 2, false, "x")
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, rc := e.rawConnect(t, "dev", username("dev"), pass(), nil)
			if rc != 0 {
				t.Fatalf("connect: %d", rc)
			}
			act(r.pc)
			r.waitLost(t)
		})
	}
	select {
	case ev := <-events.C():
		t.Errorf("a forbidden publish reached the event stream: %+v", ev)
	default:
	}
}

func TestTwin(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.connectDevice(t, "dev")
	if _, err := e.h.PatchTwin(ctx, "dev", hub.TwinPatch{Desired: map[string]any{"interval": 10.0}}, ""); err != nil {
		t.Fatal(err)
	}
	props, err := c.Twin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if props.Desired["interval"] != 10.0 || props.Desired.Version() != 2 || props.Reported.Version() != 1 {
		t.Errorf("twin GET = %+v", props)
	}
	if _, ok := props.Desired["$metadata"]; ok {
		t.Error("twin GET sent $metadata to the device")
	}

	v, err := c.UpdateReported(ctx, map[string]any{"firmware": map[string]any{"version": "1.2"}, "temp": 21.5})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := e.h.Twin(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if v != 2 || tw.Properties.Reported.Version() != v {
		t.Errorf("reported PATCH returned $version %d; the twin has %d", v, tw.Properties.Reported.Version())
	}
	want := map[string]any{"firmware": map[string]any{"version": "1.2"}, "temp": 21.5}
	if d := cmp.Diff(want, tw.Properties.Reported.Properties()); d != "" {
		t.Errorf("reported properties (-want +got):\n%s", d)
	}
	if v, err := c.UpdateReported(ctx, map[string]any{"temp": nil}); err != nil || v != 3 {
		t.Errorf("deleting a reported property: version %d, err %v", v, err)
	}
	// A value the twin cannot hold is the hub's error, with its code.
	_, err = c.UpdateReported(ctx, map[string]any{"$bad": 1})
	wantCode(t, err, hub.CodeArgumentInvalid)
}

// A malformed reported PATCH is answered 400 with a JSON errorCode body,
// which is what the SDKs read (reference §6).
func TestReportedPatchMalformed(t *testing.T) {
	e := start(t)
	d := e.createDevice(t, "dev", nil)
	r, rc := e.rawConnect(t, "dev", username("dev"), token(t, "localhost/devices/dev", d.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour)), nil)
	if rc != 0 {
		t.Fatalf("connect: %d", rc)
	}
	got := make(chan paho.Message, 1)
	if tok := r.pc.Subscribe("$iothub/twin/res/#", 0, func(_ paho.Client, m paho.Message) { got <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	r.pc.Publish("$iothub/twin/PATCH/properties/reported/?$rid=abc-1", 0, false, "{not json")
	select {
	case m := <-got:
		if m.Topic() != "$iothub/twin/res/400/?$rid=abc-1" {
			t.Errorf("response topic %q", m.Topic())
		}
		var body struct{ ErrorCode int }
		if err := json.Unmarshal(m.Payload(), &body); err != nil || body.ErrorCode != 400004 {
			t.Errorf("response body %s", m.Payload())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no response")
	}
}

func TestDesiredNotification(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.connectDevice(t, "dev")
	type note struct {
		patch   map[string]any
		version int64
	}
	got := make(chan note, 4)
	if err := c.OnDesired(ctx, func(p map[string]any, v int64) { got <- note{p, v} }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.h.PatchTwin(ctx, "dev", hub.TwinPatch{Desired: map[string]any{"interval": 30.0, "mode": nil}}, ""); err != nil {
		t.Fatal(err)
	}
	n := recv(t, got)
	if d := cmp.Diff(map[string]any{"interval": 30.0, "mode": nil}, n.patch); d != "" || n.version != 2 {
		t.Errorf("notification version %d, patch (-want +got):\n%s", n.version, d)
	}
	// Tags are not desired properties: no notification, the next one is $version 3.
	if _, err := e.h.PatchTwin(ctx, "dev", hub.TwinPatch{Tags: map[string]any{"site": "b"}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.h.PatchTwin(ctx, "dev", hub.TwinPatch{Desired: map[string]any{"interval": 5.0}}, ""); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, got); n.version != 3 || n.patch["interval"] != 5.0 {
		t.Errorf("second notification: %+v", n)
	}
}

func TestMethods(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	req := hub.MethodRequest{MethodName: "SampleMethod", Payload: json.RawMessage(`{"SamplePayload":"PayloadValue"}`)}

	e.createDevice(t, "offline", nil)
	_, err := e.h.InvokeDeviceMethod(ctx, "offline", req)
	wantCode(t, err, hub.CodeDeviceNotOnline)

	c := e.connectDevice(t, "dev")
	// Connected but not subscribed to methods: not online either.
	_, err = e.h.InvokeDeviceMethod(ctx, "dev", req)
	wantCode(t, err, hub.CodeDeviceNotOnline)

	type invocation struct {
		name    string
		payload string
	}
	seen := make(chan invocation, 4)
	err = c.OnMethod(ctx, func(name string, payload []byte) (int, []byte) {
		seen <- invocation{name, string(payload)}
		return 201, []byte(`{"result":"Direct method successful"}`)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.h.InvokeDeviceMethod(ctx, "dev", req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || string(res.Payload) != `{"result":"Direct method successful"}` {
		t.Errorf("result %d %s", res.Status, res.Payload)
	}
	if got := recv(t, seen); got != (invocation{"SampleMethod", `{"SamplePayload":"PayloadValue"}`}) {
		t.Errorf("the device saw %+v", got)
	}

	// No payload travels as null, never as an empty body (reference §6).
	if _, err := e.h.InvokeDeviceMethod(ctx, "dev", hub.MethodRequest{MethodName: "ping"}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, seen); got.payload != "null" {
		t.Errorf("a method without payload reached the device as %q", got.payload)
	}

	// A name that cannot travel in a topic is refused before anything is sent.
	_, err = e.h.InvokeDeviceMethod(ctx, "dev", hub.MethodRequest{MethodName: "a/b"})
	wantCode(t, err, hub.CodeArgumentInvalid)
}

// Answers that are empty or not JSON reach the caller as null and as a
// JSON string.
func TestMethodAnswerPayloads(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.connectDevice(t, "dev")
	answers := map[string][]byte{"empty": nil, "text": []byte("plain text"), "json": []byte(`[1,2]`)}
	if err := c.OnMethod(ctx, func(name string, _ []byte) (int, []byte) { return 200, answers[name] }); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"empty": "null", "text": `"plain text"`, "json": `[1,2]`} {
		res, err := e.h.InvokeDeviceMethod(ctx, "dev", hub.MethodRequest{MethodName: name})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Payload) != want {
			t.Errorf("%s: payload %s, want %s", name, res.Payload, want)
		}
	}
}

// A device that does not answer in time is a 504101 GatewayTimeout. The
// gateway counts the five seconds of the request in milliseconds here.
func TestMethodTimeout(t *testing.T) {
	e := start(t, withTimeoutUnit(time.Millisecond))
	ctx := context.Background()
	c := e.connectDevice(t, "dev")
	release := make(chan struct{})
	defer close(release)
	if err := c.OnMethod(ctx, func(string, []byte) (int, []byte) { <-release; return 200, nil }); err != nil {
		t.Fatal(err)
	}
	_, err := e.h.InvokeDeviceMethod(ctx, "dev", hub.MethodRequest{MethodName: "slow", ResponseTimeoutInSeconds: 5})
	wantCode(t, err, hub.CodeGatewayTimeout)
}

// With connectTimeoutInSeconds the hub waits for the device to connect and
// subscribe (reference §6), and the call goes through once it has.
func TestMethodWaitsForConnect(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	d := e.createDevice(t, "late", nil)
	type result struct {
		res *hub.MethodResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.h.InvokeDeviceMethod(ctx, "late", hub.MethodRequest{MethodName: "hello", ConnectTimeoutInSeconds: 60})
		done <- result{res, err}
	}()
	c := e.mustConnect(t, e.deviceConfig("late", d.Authentication.SymmetricKey.PrimaryKey))
	if err := c.OnMethod(ctx, func(string, []byte) (int, []byte) { return 200, []byte(`"hi"`) }); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.res.Status != 200 || string(r.res.Payload) != `"hi"` {
		t.Errorf("result %+v, err %v", r.res, r.err)
	}
}

func TestModule(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	events := e.g.Events(0)
	defer events.Close()
	e.createDevice(t, "dev", nil)
	m := e.createModule(t, "dev", "sensor")
	cfg := e.deviceConfig("dev", m.Authentication.SymmetricKey.PrimaryKey)
	cfg.ModuleID = "sensor"
	c := e.mustConnect(t, cfg)
	e.waitFor(t, "the module's session", func() bool { return e.live("dev/sensor") })
	if got, _ := e.h.Module(ctx, "dev", "sensor"); got.ConnectionState != localhub.Connected {
		t.Errorf("module connectionState %q", got.ConnectionState)
	}
	if d, _ := e.h.Device(ctx, "dev"); d.ConnectionState == localhub.Connected {
		t.Error("the module's connection was recorded on its device")
	}

	if _, err := e.h.PatchModuleTwin(ctx, "dev", "sensor", hub.TwinPatch{Desired: map[string]any{"threshold": 75.0}}, ""); err != nil {
		t.Fatal(err)
	}
	props, err := c.Twin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if props.Desired["threshold"] != 75.0 {
		t.Errorf("module twin GET: %+v", props)
	}
	if _, err := c.UpdateReported(ctx, map[string]any{"ok": true}); err != nil {
		t.Fatal(err)
	}
	if tw, _ := e.h.ModuleTwin(ctx, "dev", "sensor"); tw.Properties.Reported["ok"] != true {
		t.Errorf("module reported: %+v", tw.Properties.Reported)
	}
	if tw, _ := e.h.Twin(ctx, "dev"); tw.Properties.Reported["ok"] != nil {
		t.Error("the module's reported PATCH reached its device's twin")
	}

	if err := c.OnMethod(ctx, func(name string, _ []byte) (int, []byte) { return 200, []byte(`"` + name + `"`) }); err != nil {
		t.Fatal(err)
	}
	res, err := e.h.InvokeModuleMethod(ctx, "dev", "sensor", hub.MethodRequest{MethodName: "calibrate"})
	if err != nil || string(res.Payload) != `"calibrate"` {
		t.Fatalf("module method: %+v, %v", res, err)
	}
	_, err = e.h.InvokeDeviceMethod(ctx, "dev", hub.MethodRequest{MethodName: "calibrate"})
	wantCode(t, err, hub.CodeDeviceNotOnline)

	if err := c.SendEvent(ctx, map[string]string{"$.on": "out1"}, []byte("m")); err != nil {
		t.Fatal(err)
	}
	ev := recv(t, events.C())
	if ev.DeviceID != "dev" || ev.ModuleID != "sensor" || ev.System["on"] != "out1" {
		t.Errorf("module event %+v", ev)
	}
	if err := c.OnC2D(ctx, func(device.Message) {}); err == nil {
		t.Error("a module subscribed to cloud-to-device messages")
	}
}

func TestTelemetry(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	events := e.g.Events(0)
	defer events.Close()
	c := e.connectDevice(t, "dev")
	props := map[string]string{"$.ct": "application/json", "$.ce": "utf-8", "$.mid": "m-1", "alert level": "a&b=c/d"}
	if err := c.SendEvent(ctx, props, []byte(`{"temp":21.5}`)); err != nil {
		t.Fatal(err)
	}
	ev := recv(t, events.C())
	want := Event{
		DeviceID:   "dev",
		System:     map[string]string{"ct": "application/json", "ce": "utf-8", "mid": "m-1"},
		Properties: map[string]string{"alert level": "a&b=c/d"},
		Body:       []byte(`{"temp":21.5}`),
	}
	if d := cmp.Diff(want, ev, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".EnqueuedTime" }, cmp.Ignore())); d != "" {
		t.Errorf("event (-want +got):\n%s", d)
	}
	if ev.EnqueuedTime.IsZero() {
		t.Error("no enqueued time")
	}

	// The Node SDK's wire form (reference §7), published raw.
	d := e.createDevice(t, "conf-dev", nil)
	r, rc := e.rawConnect(t, "conf-dev", username("conf-dev"), token(t, "localhost/devices/conf-dev", d.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour)), nil)
	if rc != 0 {
		t.Fatalf("connect: %d", rc)
	}
	tok := r.pc.Publish("devices/conf-dev/messages/events/%24.mid=conf-msg-1&%24.cid=c-1&%24.ct=application%2Fjson&%24.ce=utf-8&conformance=conf&with%20space=a%26b%3Dc", 1, true, "x")
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	ev = recv(t, events.C())
	if ev.System["cid"] != "c-1" || ev.Properties["with space"] != "a&b=c" || ev.Properties["mqtt-retain"] != "true" {
		t.Errorf("raw event %+v", ev)
	}

	// A message over 256 KB closes the connection and is not accepted.
	r.pc.Publish("devices/conf-dev/messages/events/", 1, false, make([]byte, MaxMessageBytes+1))
	r.waitLost(t)
	select {
	case ev := <-events.C():
		t.Errorf("an oversized message was accepted: %d bytes", len(ev.Body))
	default:
	}
}

// A stream that is not read loses messages, counted, and never slows the
// device down.
func TestEventStreamBounded(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	slow := e.g.Events(2)
	defer slow.Close()
	c := e.connectDevice(t, "dev")
	for i := 0; i < 5; i++ {
		if err := c.SendEvent(ctx, nil, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := slow.Dropped(); got != 3 {
		t.Errorf("Dropped() = %d, want 3", got)
	}
	for want := byte(0); want < 2; want++ {
		if ev := recv(t, slow.C()); ev.Body[0] != want {
			t.Errorf("buffered event %d is %d", want, ev.Body[0])
		}
	}
	slow.Close()
	if _, ok := <-slow.C(); ok {
		t.Error("channel not closed by Close")
	}
}

func TestC2D(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	d := e.createDevice(t, "dev", nil)

	// Sent while the device is away: waits, and is delivered once it subscribes.
	if err := e.g.SendC2D(ctx, "dev", Message{MessageID: "m-1", ContentType: "text/plain", Properties: map[string]string{"k": "v w"}, Body: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	c := e.mustConnect(t, e.deviceConfig("dev", d.Authentication.SymmetricKey.PrimaryKey))
	got := make(chan device.Message, 4)
	if err := c.OnC2D(ctx, func(m device.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	m := recv(t, got)
	if string(m.Body) != "hello" || m.System["mid"] != "m-1" || m.System["ct"] != "text/plain" ||
		m.System["to"] != "/devices/dev/messages/devicebound" || m.Properties["k"] != "v w" || m.Properties["iothub-ack"] != "none" {
		t.Errorf("delivered %+v", m)
	}
	if err := e.g.SendC2D(ctx, "dev", Message{Body: []byte("live")}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, got); string(m.Body) != "live" || m.System["mid"] == "" {
		t.Errorf("delivered %+v", m)
	}

	wantCode(t, e.g.SendC2D(ctx, "dev", Message{Body: make([]byte, MaxC2DBytes+1)}), hub.CodeMessageTooLarge)
	if err := e.g.SendC2D(ctx, "nobody", Message{}); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
}

// At most 50 messages wait for a device (IoT Hub's queue depth).
func TestC2DQueueDepth(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	e.createDevice(t, "dev", nil)
	for i := 0; i < MaxC2DPending; i++ {
		if err := e.g.SendC2D(ctx, "dev", Message{Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	err := e.g.SendC2D(ctx, "dev", Message{})
	wantCode(t, err, CodeQueueFull)
	if !errors.Is(err, hub.ErrForbidden) {
		t.Errorf("a full queue is not forbidden: %v", err)
	}
}

func TestX509(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	selfSigned := selfSignedCert(t, "thumb-dev")
	sha := sha256.Sum256(selfSigned.Leaf.Raw)
	tp := strings.ToUpper(hex.EncodeToString(sha[:]))
	e.createDevice(t, "thumb-dev", &hub.AuthenticationMechanism{Type: hub.AuthSelfSigned, X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: &tp}})
	e.createDevice(t, "ca-dev", &hub.AuthenticationMechanism{Type: hub.AuthCertificateAuthority})

	connect := func(id string, cert tls.Certificate) error {
		cfg := e.deviceConfig(id, "")
		cfg.TLS.Certificates = []tls.Certificate{cert}
		_, err := e.connect(t, cfg)
		return err
	}
	if err := connect("thumb-dev", selfSigned); err != nil {
		t.Errorf("selfSigned by SHA-256 thumbprint: %v", err)
	}
	if err := connect("ca-dev", e.pki.issue(t, "ca-dev", true)); err != nil {
		t.Errorf("certificateAuthority: %v", err)
	}
	for name, tt := range map[string]struct {
		id   string
		cert tls.Certificate
	}{
		"another certificate for a thumbprint": {"thumb-dev", selfSignedCert(t, "thumb-dev")},
		"CA certificate for another device":    {"ca-dev", e.pki.issue(t, "thumb-dev", true)},
		"self-signed for a CA device":          {"ca-dev", selfSignedCert(t, "ca-dev")},
	} {
		if err := connect(tt.id, tt.cert); !errors.Is(err, device.ErrNotAuthorized) {
			t.Errorf("%s: err = %v, want ErrNotAuthorized", name, err)
		}
	}

	// SHA-1 thumbprints work too.
	s1 := sha1.Sum(selfSigned.Leaf.Raw)
	tp1 := hex.EncodeToString(s1[:])
	e.createDevice(t, "sha1-dev", &hub.AuthenticationMechanism{Type: hub.AuthSelfSigned, X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: &tp1}})
	if err := connect("sha1-dev", selfSigned); err != nil {
		t.Errorf("selfSigned by SHA-1 thumbprint: %v", err)
	}
	if d, _ := e.h.Device(ctx, "sha1-dev"); d == nil {
		t.Fatal("device vanished")
	}
}

// The hub closes a connection whose token has expired (reference §3) at
// its next packet; here the hub's clock jumps two hours.
func TestExpiredTokenCloses(t *testing.T) {
	var offset atomic.Int64
	e := start(t, withClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	d := e.createDevice(t, "dev", nil)
	r, rc := e.rawConnect(t, "dev", username("dev"), token(t, "localhost/devices/dev", d.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour)), nil)
	if rc != 0 {
		t.Fatalf("connect: %d", rc)
	}
	offset.Store(int64(2 * time.Hour))
	r.pc.Publish("$iothub/twin/GET/?$rid=1", 0, false, " ")
	r.waitLost(t)
}

// A disabled device is disconnected at its first packet after the next
// identity check.
func TestDisabledWhileConnected(t *testing.T) {
	var offset atomic.Int64
	e := start(t, withClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	ctx := context.Background()
	d := e.createDevice(t, "dev", nil)
	r, rc := e.rawConnect(t, "dev", username("dev"), token(t, "localhost/devices/dev", d.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour)), nil)
	if rc != 0 {
		t.Fatalf("connect: %d", rc)
	}
	d.Status = hub.StatusDisabled
	if _, err := e.h.UpdateDevice(ctx, d, "*"); err != nil {
		t.Fatal(err)
	}
	offset.Store(int64(time.Minute))
	r.pc.Publish("$iothub/twin/GET/?$rid=1", 0, false, " ")
	r.waitLost(t)
}

// Key-signed tokens are renewed by reconnecting when a quarter of their
// lifetime is left: here after 750 ms of a one-second token, again and
// again. Each new connection takes the old one's place.
func TestTokenRenewal(t *testing.T) {
	e := start(t)
	d := e.createDevice(t, "dev", nil)
	back := make(chan struct{}, 1)
	cfg := e.deviceConfig("dev", d.Authentication.SymmetricKey.PrimaryKey)
	cfg.TokenLifetime = time.Second
	cfg.OnConnectionChange = func(connected bool, err error) {
		if connected {
			select {
			case back <- struct{}{}:
			default:
			}
		}
	}
	e.mustConnect(t, cfg)
	select {
	case <-back:
	case <-time.After(10 * time.Second):
		t.Fatal("the token was not renewed")
	}
	e.waitFor(t, "the renewed session", func() bool { return e.live("dev") })
}

// Stopping the gateway disconnects everyone, records it, ends event
// streams, and Run returns only once every goroutine it started has ended.
func TestShutdown(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	e.connectDevice(t, "dev")
	e.waitFor(t, "the session", func() bool { return e.live("dev") })
	stream := e.g.Events(0)
	e.stop()
	if d, _ := e.h.Device(ctx, "dev"); d.ConnectionState != localhub.Disconnected {
		t.Errorf("after shutdown: connectionState %q", d.ConnectionState)
	}
	if _, ok := <-stream.C(); ok {
		t.Error("an event stream outlived the gateway")
	}
	if _, ok := <-e.g.Events(0).C(); ok {
		t.Error("a stopped gateway's new event stream is open")
	}
	_, err := e.h.InvokeDeviceMethod(ctx, "dev", hub.MethodRequest{MethodName: "m"})
	wantCode(t, err, hub.CodeDeviceNotOnline)
	if err := e.g.Run(ctx, mustListen(t)); err == nil {
		t.Error("a second Run was accepted")
	}
}

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// When the hub goes away and comes back (without the sessions it kept in
// memory), the device client reconnects by itself and makes its
// subscriptions again.
func TestDeviceReconnectsAfterRestart(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	d := e.createDevice(t, "dev", nil)
	back := make(chan struct{}, 1)
	cfg := e.deviceConfig("dev", d.Authentication.SymmetricKey.PrimaryKey)
	cfg.OnConnectionChange = func(connected bool, _ error) {
		if connected {
			select {
			case back <- struct{}{}:
			default:
			}
		}
	}
	c := e.mustConnect(t, cfg)
	if err := c.OnMethod(ctx, func(string, []byte) (int, []byte) { return 200, []byte(`"again"`) }); err != nil {
		t.Fatal(err)
	}
	e.stop()

	g2, err := New(e.h, Options{HostName: "localhost", TLS: &tls.Config{Certificates: []tls.Certificate{e.pki.server}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", e.addr, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g2.Run(runCtx, ln) }()
	defer func() {
		c.Close()
		cancel()
		<-done
	}()
	select {
	case <-back:
	case <-time.After(10 * time.Second):
		t.Fatal("the device did not reconnect")
	}
	res, err := e.h.InvokeDeviceMethod(ctx, "dev", hub.MethodRequest{MethodName: "m", ConnectTimeoutInSeconds: 30})
	if err != nil || string(res.Payload) != `"again"` {
		t.Errorf("method after the restart: %+v, %v", res, err)
	}
}
