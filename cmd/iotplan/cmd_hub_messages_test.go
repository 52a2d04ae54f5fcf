package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

func TestParseProps(t *testing.T) {
	for in, want := range map[string]map[string]string{
		"":                nil,
		"a=1;b=2":         {"a": "1", "b": "2"},
		" a = x=y ;;c=":   {"a": " x=y ", "c": ""},
		"with space=a&b;": {"with space": "a&b"},
	} {
		got, err := parseProps(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", in, d)
		}
	}
	for _, in := range []string{"a", "a=1;b", "=x"} {
		if _, err := parseProps(in); err == nil {
			t.Errorf("%q was accepted", in)
		}
	}
}

func TestC2DFlags(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f := c2dFlags{data: "hi", props: "k=v", messageID: "m", ack: "full", contentEncoding: "utf-8", expiry: now.Add(time.Minute).UnixMilli()}
	msg, err := f.message(now)
	if err != nil {
		t.Fatal(err)
	}
	want := hub.C2DMessage{Body: []byte("hi"), Properties: map[string]string{"k": "v"}, MessageID: "m", ContentEncoding: "utf-8", Ack: "full", ExpiryTime: now.Add(time.Minute)}
	if d := cmp.Diff(want, msg); d != "" {
		t.Errorf("message (-want +got):\n%s", d)
	}
	f.expiry = now.Add(-time.Minute).UnixMilli()
	if _, err := f.message(now); err == nil || !strings.Contains(err.Error(), "has passed") {
		t.Errorf("an expiry in the past: %v", err)
	}
}

func TestAzEvent(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := hub.DeviceEvent{
		DeviceID: "d", ModuleID: "m", EnqueuedTime: at,
		System:     map[string]string{"mid": "1", "ct": "application/json; charset=utf-8", "ce": "utf-8", "ifid": "dtmi:x;1", "sub": "thermostat1", "ctime": "t"},
		Properties: map[string]string{"a": "b"},
		Body:       []byte(`{"t": 1}`),
	}
	show := func(ev hub.DeviceEvent, f *monitorFlags) string {
		b, err := json.Marshal(azEvent(ev, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	all := &monitorFlags{props: propertyKinds{kinds: []string{"all"}}}
	if got, want := show(ev, all), `{"event":{"origin":"d","module":"m","interface":"dtmi:x;1","component":"thermostat1","payload":{"t":1},`+
		`"annotations":{"iothub-connection-device-id":"d","iothub-connection-module-id":"m","iothub-enqueuedtime":1893553445000,"iothub-message-source":"Telemetry","x-opt-enqueued-time":1893553445000},`+
		`"properties":{"system":{"content_encoding":"utf-8","content_type":"application/json; charset=utf-8","ctime":"t","ifid":"dtmi:x;1","message_id":"1","sub":"thermostat1"},"application":{"a":"b"}}}}`; got != want {
		t.Errorf("all properties:\n%s\nwant\n%s", got, want)
	}
	bare := &monitorFlags{}
	for _, tt := range []struct {
		body        []byte
		ct, forceCT string
		want        string
	}{
		{[]byte(`{"t": 1}`), "", "", `{"t":1}`},
		{[]byte(`42`), "text/plain", "", `"42"`},
		{[]byte(`42`), "text/plain", "application/json", `42`},
		{[]byte(`not json`), "application/json", "", `"not json"`},
		{[]byte{0xff, 0x00}, "", "", `"/wA="`},
		{nil, "", "", `""`},
	} {
		e := hub.DeviceEvent{DeviceID: "d", Body: tt.body, System: map[string]string{}}
		if tt.ct != "" {
			e.System["ct"] = tt.ct
		}
		bare.contentType = tt.forceCT
		got := show(e, bare)
		want := `{"event":{"origin":"d","module":"","interface":"","component":"","payload":` + tt.want + `}}`
		if got != want {
			t.Errorf("body %q (ct %q, --content-type %q):\n%s\nwant\n%s", tt.body, tt.ct, tt.forceCT, got, want)
		}
	}
	// app alone: application properties even when there are none.
	app := &monitorFlags{props: propertyKinds{kinds: []string{"app"}}}
	if got, want := show(hub.DeviceEvent{DeviceID: "d", Body: []byte("x")}, app), `{"event":{"origin":"d","module":"","interface":"","component":"","payload":"x","properties":{"application":{}}}}`; got != want {
		t.Errorf("app properties:\n%s\nwant\n%s", got, want)
	}
}
