package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub/gateway"
	"github.com/iotplan/iotplan/internal/localhub/server"
)

// Messages between the cloud and devices, as `az iot device c2d-message
// send` and `az iot hub monitor-events` handle them. Azure IoT Hub carries
// them over AMQP and its Event Hubs-compatible endpoint; `iotplan hub
// serve` offers them over its REST API instead, through the local
// extension of docs/local-extensions.md, so these commands work with a
// served hub only.

// messagesClient returns the REST client of the hub --login or
// IOTHUB_CONNECTION_STRING names. Messages never involve the embedded hub:
// devices connect only to a served one.
func (t *hubTarget) messagesClient(what string) (*hub.Client, error) {
	if t.login == "" && os.Getenv("IOTHUB_CONNECTION_STRING") == "" {
		return nil, fmt.Errorf("%s need a served hub: devices connect only to `iotplan hub serve`, never to the embedded hub of the working folder. Start `iotplan hub serve` and pass the owner connection string it prints as --login (or IOTHUB_CONNECTION_STRING)", what)
	}
	h, _, _, err := t.open(true)
	if err != nil {
		return nil, err
	}
	c, ok := h.(*hub.Client)
	if !ok {
		return nil, fmt.Errorf("%s need a served hub, reached through its connection string", what)
	}
	return c, nil
}

// aliasFlag adds a hidden second name for a flag, as az accepts
// --mid for --message-id.
func aliasFlag(f *pflag.FlagSet, name, alias string) {
	fl := f.Lookup(name)
	f.Var(fl.Value, alias, fl.Usage)
	_ = f.MarkHidden(alias)
}

// c2dFlags are the flags of `hub c2d-message send`.
type c2dFlags struct {
	deviceID, data, props             string
	messageID, correlationID, userID  string
	contentType, contentEncoding, ack string
	expiry                            int64
}

func newC2DMessageCmd(s *streams) *cobra.Command {
	t := &hubTarget{}
	var f c2dFlags
	cmd := &cobra.Command{Use: "c2d-message", Short: "Send cloud-to-device messages (az iot device c2d-message)"}
	send := &cobra.Command{
		Use:   "send",
		Short: "Send a cloud-to-device message to a device",
		Long: `Send a cloud-to-device message to a device, as "az iot device c2d-message
send" does. The hub keeps it until the device, connected and subscribed to its
messages, takes it, or until it expires (--expiry, else an hour); a device has
at most 50 messages waiting. The body holds at most 64 KiB.

Azure IoT Hub takes these messages over AMQP only; this command sends them
through the REST extension of "iotplan hub serve" (docs/local-extensions.md),
so it needs a served hub: --login or IOTHUB_CONNECTION_STRING.`,
		Example: `  iotplan hub c2d-message send -d thermostat-1 --data '{"setpoint": 21}' --content-type application/json --props 'priority=high;source=ops'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			msg, err := f.message(time.Now())
			if err != nil {
				return err
			}
			c, err := t.messagesClient("cloud-to-device messages")
			if err != nil {
				return err
			}
			return c.SendC2D(cmd.Context(), f.deviceID, msg)
		},
	}
	fl := send.Flags()
	fl.StringVarP(&f.deviceID, "device-id", "d", "", "the device to send to")
	_ = send.MarkFlagRequired("device-id")
	fl.StringVar(&f.data, "data", "Ping from iotplan", "the message body, as text")
	fl.StringVarP(&f.props, "props", "p", "", `application properties as "key=value;key=value"`)
	fl.StringVar(&f.messageID, "message-id", "", "the message ID (default: one the hub makes up)")
	fl.StringVar(&f.correlationID, "correlation-id", "", "the correlation ID")
	fl.StringVar(&f.userID, "user-id", "", "the user ID")
	fl.StringVar(&f.contentType, "content-type", "", "the content type of the body, e.g. application/json")
	fl.StringVar(&f.contentEncoding, "content-encoding", "utf-8", "the encoding of the body")
	fl.StringVar(&f.ack, "ack", "", "delivery feedback to ask for: none, positive, negative or full (the device sees it as iothub-ack)")
	fl.Int64VarP(&f.expiry, "expiry", "e", 0, "when the message expires, in milliseconds since the Unix epoch (default: an hour from now)")
	for name, alias := range map[string]string{"data": "da", "message-id": "mid", "correlation-id": "cid", "user-id": "uid", "content-type": "ct", "content-encoding": "ce"} {
		aliasFlag(fl, name, alias)
	}
	t.register(fl)
	cmd.AddCommand(send)
	return cmd
}

// message checks the flags and builds the message.
func (f *c2dFlags) message(now time.Time) (hub.C2DMessage, error) {
	msg := hub.C2DMessage{
		Body: []byte(f.data), MessageID: f.messageID, CorrelationID: f.correlationID, UserID: f.userID,
		ContentType: f.contentType, ContentEncoding: f.contentEncoding, Ack: f.ack,
	}
	switch f.ack {
	case "", "none", "positive", "negative", "full":
	default:
		return msg, fmt.Errorf("--ack must be none, positive, negative or full, not %q", f.ack)
	}
	props, err := parseProps(f.props)
	if err != nil {
		return msg, err
	}
	msg.Properties = props
	if f.expiry != 0 {
		t := time.UnixMilli(f.expiry)
		if !t.After(now) {
			return msg, fmt.Errorf("--expiry %d is %s, which has passed; it counts milliseconds since the Unix epoch", f.expiry, t.UTC().Format(time.RFC3339))
		}
		msg.ExpiryTime = t
	}
	return msg, nil
}

// parseProps reads a property bag given as "a=1;b=2", as az does.
func parseProps(v string) (map[string]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	props := map[string]string{}
	for pair := range strings.SplitSeq(v, ";") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--props: %q is not key=value; give properties as \"key=value;key=value\"", pair)
		}
		props[strings.TrimSpace(k)] = val
	}
	return props, nil
}

// propertyKinds is the value of monitor-events --properties: a list that
// grows with every use of the flag and its alias.
type propertyKinds struct{ kinds []string }

func (p *propertyKinds) String() string { return strings.Join(p.kinds, ",") }
func (p *propertyKinds) Type() string   { return "kinds" }
func (p *propertyKinds) Set(v string) error {
	for k := range strings.SplitSeq(v, ",") {
		if err := p.add(strings.TrimSpace(k)); err != nil {
			return err
		}
	}
	return nil
}

func (p *propertyKinds) add(k string) error {
	switch k {
	case "sys", "app", "anno", "all":
		p.kinds = append(p.kinds, k)
		return nil
	}
	return fmt.Errorf("%q is not a kind of properties: the kinds are sys, app, anno and all", k)
}

func (p *propertyKinds) has(k string) bool {
	return slices.Contains(p.kinds, k) || slices.Contains(p.kinds, "all")
}

// monitorFlags are the flags of `hub monitor-events`.
type monitorFlags struct {
	deviceID     string
	timeout      int
	messageCount int
	contentType  string
	props        propertyKinds
}

// Ends of a monitor that are no failure.
var (
	errMonitorEnough  = errors.New("enough messages")
	errMonitorTimeout = errors.New("no message within the timeout")
)

func newMonitorEventsCmd(s *streams) *cobra.Command {
	t := &hubTarget{}
	var f monitorFlags
	cmd := &cobra.Command{
		Use:   "monitor-events",
		Short: "Print the messages devices send to the hub as they arrive",
		Long: `Print the device-to-cloud messages the hub accepts from now on, of every device
or of --device-id, as "az iot hub monitor-events" does: one JSON object a
message, {"event": {"origin": …, "module": …, "payload": …}}, the payload parsed
as JSON when it is JSON (shown in base64 when it is not UTF-8 text), with
--properties sys, app, anno or all adding its system properties, application
properties and annotations.

It stops after --timeout seconds without a message (0: never), after
--message-count messages, or on Ctrl-C.

Azure IoT Hub hands these messages out through its Event Hubs-compatible
endpoint only; this command reads them from the REST extension of "iotplan hub
serve" (docs/local-extensions.md), so it needs a served hub: --login or
IOTHUB_CONNECTION_STRING.`,
		Example: `  iotplan hub monitor-events -d thermostat-1 --properties sys app`,
		Args: func(cmd *cobra.Command, args []string) error {
			// az takes --properties sys app: the kinds after the first
			// arrive here as arguments.
			if len(args) > 0 && !cmd.Flags().Changed("properties") && !cmd.Flags().Changed("props") {
				return fmt.Errorf("unexpected argument %q", args[0])
			}
			for _, a := range args {
				if err := f.props.add(a); err != nil {
					return fmt.Errorf("--properties: %w", err)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if t.output != "json" {
				return fmt.Errorf("monitor-events prints JSON only, not --output %s", t.output)
			}
			if f.timeout < 0 || f.messageCount < 0 {
				return errors.New("--timeout and --message-count cannot be negative")
			}
			c, err := t.messagesClient("device-to-cloud messages")
			if err != nil {
				return err
			}
			return runMonitorEvents(cmd.Context(), s, c, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.deviceID, "device-id", "d", "", "print the messages of this device only")
	fl.IntVarP(&f.timeout, "timeout", "t", 300, "stop after this many seconds without a message; 0 waits until Ctrl-C")
	fl.IntVar(&f.messageCount, "message-count", 0, "stop after this many messages (0: no limit)")
	fl.StringVar(&f.contentType, "content-type", "", "read every payload as this content type (default: the message's own)")
	fl.VarP(&f.props, "properties", "p", "properties to print: sys, app, anno or all (--properties sys app)")
	for name, alias := range map[string]string{"timeout": "to", "message-count": "mc", "content-type": "ct", "properties": "props"} {
		aliasFlag(fl, name, alias)
	}
	t.register(fl)
	return cmd
}

func runMonitorEvents(ctx context.Context, s *streams, c *hub.Client, f *monitorFlags) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.Duration(f.timeout) * time.Second
	var timer *time.Timer
	if idle > 0 {
		timer = time.AfterFunc(idle, func() { cancel(errMonitorTimeout) })
		defer timer.Stop()
	}

	if f.deviceID != "" {
		fmt.Fprintf(s.Err, "Starting event monitor, filtering on device: %s, use ctrl-c to stop...\n", f.deviceID)
	} else {
		fmt.Fprintln(s.Err, "Starting event monitor, use ctrl-c to stop...")
	}
	n := 0
	err := c.MonitorEvents(ctx, f.deviceID, func(ev hub.DeviceEvent) error {
		if timer != nil {
			timer.Reset(idle)
		}
		if ev.Missed > 0 {
			fmt.Fprintf(s.Err, "Warning: the monitor fell behind and missed %d messages before this one.\n", ev.Missed)
		}
		if err := writeJSON(s, azEvent(ev, f)); err != nil {
			return err
		}
		n++
		if f.messageCount > 0 && n >= f.messageCount {
			return errMonitorEnough
		}
		return nil
	})
	switch {
	case errors.Is(err, errMonitorEnough):
		return nil
	case ctx.Err() != nil:
		// The timeout, or Ctrl-C: the monitor's ordinary ends.
		return nil
	}
	return err
}

// monitorEvent is a message as `az iot hub monitor-events` prints it.
type monitorEvent struct {
	Event monitorEventBody `json:"event"`
}

type monitorEventBody struct {
	Origin      string         `json:"origin"`
	Module      string         `json:"module"`
	Interface   string         `json:"interface"`
	Component   string         `json:"component"`
	Payload     any            `json:"payload"`
	Annotations map[string]any `json:"annotations,omitempty"`
	Properties  *monitorProps  `json:"properties,omitempty"`
}

type monitorProps struct {
	System map[string]string `json:"system,omitempty"`
	// Application is there whenever app properties are asked for, as {}
	// when there are none.
	Application any `json:"application,omitempty"`
}

// azSystemNames are the names az prints system properties under (those of
// AMQP's message properties), by their MQTT wire names.
var azSystemNames = map[string]string{
	"mid": "message_id", "cid": "correlation_id", "uid": "user_id", "to": "to",
	"ct": "content_type", "ce": "content_encoding", "exp": "absolute_expiry_time",
}

func azEvent(ev hub.DeviceEvent, f *monitorFlags) monitorEvent {
	out := monitorEventBody{
		Origin: ev.DeviceID, Module: ev.ModuleID,
		Interface: ev.System["ifid"], Component: ev.System["sub"],
		Payload: payloadOf(ev, f.contentType),
	}
	if f.props.has("anno") {
		ms := ev.EnqueuedTime.UnixMilli()
		out.Annotations = map[string]any{
			"iothub-connection-device-id": ev.DeviceID,
			"iothub-enqueuedtime":         ms,
			"iothub-message-source":       "Telemetry",
			"x-opt-enqueued-time":         ms,
		}
		if ev.ModuleID != "" {
			out.Annotations["iothub-connection-module-id"] = ev.ModuleID
		}
	}
	sys, app := f.props.has("sys"), f.props.has("app")
	if sys || app || len(f.props.kinds) > 0 {
		out.Properties = &monitorProps{}
	}
	if sys && len(ev.System) > 0 {
		out.Properties.System = map[string]string{}
		for k, v := range ev.System {
			if name, ok := azSystemNames[k]; ok {
				k = name
			}
			out.Properties.System[k] = v
		}
	}
	if app {
		props := ev.Properties
		if props == nil {
			props = map[string]string{}
		}
		out.Properties.Application = props
	}
	return monitorEvent{Event: out}
}

// payloadOf is the payload as az prints it: parsed when it is JSON (and
// its content type does not say otherwise), as text when it is UTF-8, and
// in base64 when it is neither.
func payloadOf(ev hub.DeviceEvent, contentType string) any {
	if !utf8.Valid(ev.Body) {
		return base64.StdEncoding.EncodeToString(ev.Body)
	}
	if contentType == "" {
		contentType = ev.System["ct"]
	}
	if contentType == "" || strings.Contains(strings.ToLower(contentType), "json") {
		var v any
		if json.Unmarshal(ev.Body, &v) == nil {
			return json.RawMessage(ev.Body)
		}
	}
	return string(ev.Body)
}

// localMessages gives the REST server's local extension (server.Options
// SendC2D and Subscribe) the device gateway's cloud-to-device queue and
// device-to-cloud messages.
func localMessages(gw *gateway.Gateway) (func(context.Context, string, server.C2DMessage) error, func(context.Context) (server.EventSource, error)) {
	send := func(ctx context.Context, deviceID string, m server.C2DMessage) error {
		return gw.SendC2D(ctx, deviceID, gateway.Message{
			MessageID: m.MessageID, CorrelationID: m.CorrelationID, UserID: m.UserID,
			ContentType: m.ContentType, ContentEncoding: m.ContentEncoding, Ack: m.Ack,
			ExpiryTime: m.ExpiryTime, Properties: m.Properties, Body: m.Body,
		})
	}
	subscribe := func(context.Context) (server.EventSource, error) {
		return gatewayEvents{gw.Events(0)}, nil
	}
	return send, subscribe
}

// gatewayEvents is a gateway event stream as the REST server reads it.
type gatewayEvents struct{ st *gateway.EventStream }

func (e gatewayEvents) Next(ctx context.Context) (server.DeviceEvent, error) {
	select {
	case <-ctx.Done():
		return server.DeviceEvent{}, ctx.Err()
	case ev, ok := <-e.st.C():
		if !ok {
			return server.DeviceEvent{}, io.EOF
		}
		return server.DeviceEvent{
			DeviceID: ev.DeviceID, ModuleID: ev.ModuleID, System: ev.System, Properties: ev.Properties,
			Body: ev.Body, EnqueuedTime: ev.EnqueuedTime,
		}, nil
	}
}

func (e gatewayEvents) Dropped() int64 { return e.st.Dropped() }
func (e gatewayEvents) Close()         { e.st.Close() }
