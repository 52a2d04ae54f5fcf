package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/iotplan/iotplan/internal/device"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
)

// simulateOptions are the flags of `device simulate`, named as
// `az iot device simulate` names them.
type simulateOptions struct {
	deviceID         string
	moduleID         string
	login            string // a policy connection string
	deviceConnString string
	hubHost          string // host[:port] to dial
	mqttPort         int
	caFile           string
	insecure         bool
	responseCode     int
	responsePayload  string
	msgCount         int
	msgInterval      float64 // seconds
	data             string
	initReported     string
	ackDesired       bool
	profile          string
	devices          int

	// lookup finds device keys; nil chooses by the flags (the hub's REST
	// API with --login, else the embedded hub). Tests set it.
	lookup deviceKeyLookup
}

// deviceKeyLookup finds the keys of the identities to simulate. The
// embedded hub (*localhub.Hub) and the REST client of a hub (*hub.Client)
// both are one.
type deviceKeyLookup interface {
	Device(ctx context.Context, id string) (*hub.Device, error)
	Module(ctx context.Context, deviceID, moduleID string) (*hub.Module, error)
}

func newDeviceSimulateCmd(s *streams) *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate a device: send messages, answer direct methods, report properties",
		Long: `Simulate a device (or, with --devices, several) on a hub, as "az iot device
simulate" does: connect over MQTT, send --msg-count messages one every
--msg-interval seconds, answer every direct method with --method-response-code
and --method-response-payload, and print the direct methods, desired property
changes and cloud-to-device messages it receives. With --msg-count 0 it sends
nothing and runs until Ctrl-C. With --ack-desired it reports its desired
properties back, as a device that applies them does (see apply -wait).

The device's key is looked up with the policy connection string of --login (or
IOTHUB_CONNECTION_STRING) through the hub's REST API, or in the embedded hub of
the working folder when there is none; --device-connection-string gives it
directly. The device connects to the hub's host name on port --mqtt-port, or to
--hub-host.

--profile reboot makes the device answer a "reboot" method with 200, report
iothubDM.reboot.lastReboot, then disconnect and connect again, like the device
of IoT Hub's device management tutorial.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.deviceID, "device-id", "d", "", "the device to simulate; with --devices N, the prefix of ID-1 … ID-N")
	f.StringVarP(&o.moduleID, "module-id", "m", "", "simulate this module of the device instead")
	f.StringVarP(&o.login, "login", "l", "", "a hub connection string with a shared access policy, to look the device's key up (default $IOTHUB_CONNECTION_STRING)")
	f.StringVar(&o.deviceConnString, "device-connection-string", "", "the device's (or module's) own connection string; no lookup then")
	f.StringVar(&o.hubHost, "hub-host", "", "host[:port] of the hub's MQTT endpoint (default: the hub's host name and --mqtt-port)")
	f.IntVar(&o.mqttPort, "mqtt-port", 8883, "port of the hub's MQTT endpoint")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file of a CA to trust for the hub's certificate (default: the system's, and .iotplan/ca.pem for the local hub)")
	f.BoolVar(&o.insecure, "insecure", false, "connect over plain TCP, to `iotplan hub serve --insecure`")
	f.IntVar(&o.responseCode, "method-response-code", 200, "status to answer direct methods with")
	f.StringVar(&o.responsePayload, "method-response-payload", "{}", "JSON payload to answer direct methods with")
	f.IntVar(&o.msgCount, "msg-count", 100, "how many device-to-cloud messages to send; 0 sends none and runs until Ctrl-C")
	f.Float64Var(&o.msgInterval, "msg-interval", 3, "seconds between messages")
	f.StringVar(&o.data, "data", "", "the body of every message (default: a JSON object with the device ID and message number)")
	f.StringVar(&o.initReported, "init-reported-properties", "", "JSON object to report as the device's properties once connected")
	f.BoolVar(&o.ackDesired, "ack-desired", false, "report the desired properties back as reported ones: all of them once connected, then each change, as a device that applies its settings does")
	f.StringVar(&o.profile, "profile", "", `device behaviour: "reboot" (see above)`)
	f.IntVar(&o.devices, "devices", 1, "simulate N devices, ID-1 … ID-N, from one process")
	return cmd
}

// simDevice is one identity to simulate, with what it connects with.
type simDevice struct {
	name string // client ID, for output
	cfg  device.Config
}

func runSimulate(ctx context.Context, s *streams, o simulateOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	devs, err := o.resolve(ctx)
	if err != nil {
		return err
	}
	out := &simPrinter{w: s.Out, prefix: len(devs) > 1}
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range devs {
		g.Go(func() error { return o.simulate(gctx, ctx, out, d) })
	}
	err = g.Wait()
	if ctx.Err() != nil && err == nil {
		out.line("", "Stopped.")
	}
	return err
}

func (o *simulateOptions) check() error {
	if o.deviceConnString == "" && o.deviceID == "" {
		return errors.New("give --device-id, or --device-connection-string")
	}
	if o.devices < 1 {
		return fmt.Errorf("--devices must be at least 1")
	}
	if o.devices > 1 && o.deviceConnString != "" {
		return errors.New("--devices needs --device-id: one connection string names one device")
	}
	if o.msgCount < 0 {
		return errors.New("--msg-count cannot be negative")
	}
	if o.msgInterval < 0 {
		return errors.New("--msg-interval cannot be negative")
	}
	if o.mqttPort < 1 || o.mqttPort > 65535 {
		return fmt.Errorf("--mqtt-port %d is not a port", o.mqttPort)
	}
	if o.responseCode < 0 || o.responseCode > 999 {
		return fmt.Errorf("--method-response-code %d is not a status code", o.responseCode)
	}
	if o.responsePayload != "" && !json.Valid([]byte(o.responsePayload)) {
		return errors.New("--method-response-payload is not valid JSON")
	}
	if o.initReported != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(o.initReported), &m); err != nil || m == nil {
			return errors.New("--init-reported-properties is not a JSON object")
		}
	}
	switch o.profile {
	case "", "reboot":
	default:
		return fmt.Errorf("--profile %q: the profiles are: reboot", o.profile)
	}
	return nil
}

// resolve finds the identities to simulate and their credentials.
func (o *simulateOptions) resolve(ctx context.Context) ([]simDevice, error) {
	roots, err := o.rootCAs()
	if err != nil {
		return nil, err
	}
	base := device.Config{Insecure: o.insecure}
	if roots != nil && !o.insecure {
		base.TLS = &tls.Config{RootCAs: roots}
	}

	if o.deviceConnString != "" {
		cs, err := hub.ParseConnectionString(o.deviceConnString)
		if err != nil {
			return nil, fmt.Errorf("--device-connection-string: %w", err)
		}
		if cs.DeviceID == "" {
			return nil, errors.New("--device-connection-string has no DeviceId: it is a hub's connection string; pass it as --login")
		}
		if cs.X509 {
			return nil, errors.New("--device-connection-string is for an X.509 device; simulate authenticates with SAS keys or tokens")
		}
		if o.deviceID != "" && o.deviceID != cs.DeviceID || o.moduleID != "" && o.moduleID != cs.ModuleID {
			return nil, errors.New("--device-id or --module-id disagree with --device-connection-string")
		}
		cfg := base
		cfg.HostName, cfg.DeviceID, cfg.ModuleID = cs.HostName, cs.DeviceID, cs.ModuleID
		cfg.Key, cfg.Token = cs.SharedAccessKey, cs.SharedAccessSignature
		if cs.SharedAccessKeyName != "" {
			cfg.KeyName = cs.SharedAccessKeyName
		}
		cfg.Host = o.dialAddress(cs.HostName, cs.GatewayHostName)
		return []simDevice{{name: clientID(cs.DeviceID, cs.ModuleID), cfg: cfg}}, nil
	}

	lookup, hostName, closeLookup, err := o.keyLookup(roots)
	if err != nil {
		return nil, err
	}
	defer closeLookup()
	ids := []string{o.deviceID}
	if o.devices > 1 {
		ids = ids[:0]
		for i := 1; i <= o.devices; i++ {
			ids = append(ids, o.deviceID+"-"+strconv.Itoa(i))
		}
	}
	devs := make([]simDevice, 0, len(ids))
	for _, id := range ids {
		key, err := lookupKey(ctx, lookup, id, o.moduleID)
		if err != nil {
			return nil, err
		}
		cfg := base
		cfg.HostName, cfg.DeviceID, cfg.ModuleID, cfg.Key = hostName, id, o.moduleID, key
		cfg.Host = o.dialAddress(hostName, "")
		devs = append(devs, simDevice{name: clientID(id, o.moduleID), cfg: cfg})
	}
	return devs, nil
}

func clientID(deviceID, moduleID string) string {
	if moduleID == "" {
		return deviceID
	}
	return deviceID + "/" + moduleID
}

// keyLookup chooses where keys come from: the REST API of the hub a
// policy connection string names, or the embedded hub.
func (o *simulateOptions) keyLookup(roots *x509.CertPool) (deviceKeyLookup, string, func(), error) {
	login := o.login
	if login == "" {
		login = os.Getenv("IOTHUB_CONNECTION_STRING")
	}
	if o.lookup != nil {
		host := hubHost
		if login != "" {
			if cs, err := hub.ParseConnectionString(login); err == nil {
				host = cs.HostName
			}
		}
		return o.lookup, host, func() {}, nil
	}
	if login != "" {
		cs, err := hub.ParseConnectionString(login)
		if err != nil {
			return nil, "", nil, fmt.Errorf("--login: %w", err)
		}
		c, err := hub.NewClient(cs, hub.ClientOptions{RootCAs: roots, Insecure: o.insecure, Logger: hubLog})
		if err != nil {
			return nil, "", nil, fmt.Errorf("--login: %w", err)
		}
		return c, cs.HostName, func() {}, nil
	}
	h, err := openHub(true)
	if errors.Is(err, localhub.ErrInUse) {
		return nil, "", nil, fmt.Errorf("%w\n\nAnother iotplan (\"hub serve\"?) holds the embedded hub. Look the device up through it: pass its owner connection string as --login (or IOTHUB_CONNECTION_STRING), or the device's own as --device-connection-string", err)
	}
	if err != nil {
		return nil, "", nil, err
	}
	return h, hubHost, func() { h.Close() }, nil
}

// lookupKey returns the primary SAS key of a device or module.
func lookupKey(ctx context.Context, l deviceKeyLookup, deviceID, moduleID string) (string, error) {
	var auth *hub.AuthenticationMechanism
	what := "device " + deviceID
	if moduleID == "" {
		d, err := l.Device(ctx, deviceID)
		if err != nil {
			return "", fmt.Errorf("look up %s: %w", what, err)
		}
		auth = d.Authentication
	} else {
		what = "module " + moduleID + " of device " + deviceID
		m, err := l.Module(ctx, deviceID, moduleID)
		if err != nil {
			return "", fmt.Errorf("look up %s: %w", what, err)
		}
		auth = m.Authentication
	}
	if auth == nil || auth.Type != hub.AuthSAS || auth.SymmetricKey == nil || auth.SymmetricKey.PrimaryKey == "" {
		typ := hub.AuthNone
		if auth != nil {
			typ = auth.Type
		}
		return "", fmt.Errorf("%s authenticates with %s; simulate needs SAS keys", what, typ)
	}
	return auth.SymmetricKey.PrimaryKey, nil
}

// dialAddress is where a device connects: --hub-host, else the gateway
// host of a connection string, else the hub's host name, on --mqtt-port
// unless the address carries a port.
func (o *simulateOptions) dialAddress(hostName, gateway string) string {
	host := o.hubHost
	if host == "" {
		host = gateway
	}
	if host == "" {
		host = hostName
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h // the port of a REST address is not the MQTT port
		}
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(o.mqttPort))
}

// rootCAs returns the CAs to trust for the hub's certificates: the
// system's plus --ca-file, or plus the local hub's .iotplan/ca.pem when
// there is one and no --ca-file; nil means the system's alone.
func (o *simulateOptions) rootCAs() (*x509.CertPool, error) {
	switch {
	case o.caFile != "":
		return readCAFile(o.caFile)
	case fileExists(localCAFile):
		return readCAFile(localCAFile)
	}
	return nil, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// localCAFile is where `hub serve` keeps the CA of its certificates.
const localCAFile = dataDir + "/ca.pem"

// readCAFile reads a PEM file of CA certificates into a pool, on top of
// the system's.
func readCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// simulate runs one device until its messages are sent or ctx is done.
// stopCtx is the command's context: its end (Ctrl-C) is a clean stop,
// while the end of ctx alone means another device failed.
func (o *simulateOptions) simulate(ctx, stopCtx context.Context, out *simPrinter, d simDevice) error {
	cfg := d.cfg
	cfg.OnConnectionChange = func(connected bool, err error) {
		if connected {
			out.line(d.name, "Reconnected.")
		} else if stopCtx.Err() == nil {
			out.line(d.name, "Connection lost (%v); reconnecting…", err)
		}
	}
	c, err := device.Connect(ctx, cfg)
	if err != nil {
		if stopCtx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connect %s to %s: %w", d.name, cfg.Host, err)
	}
	defer c.Close()

	sending := fmt.Sprintf("Sending %d messages, one every %s s.", o.msgCount, strconv.FormatFloat(o.msgInterval, 'f', -1, 64))
	switch {
	case o.msgCount == 0:
		sending = "Sending no messages; Ctrl-C to stop."
	case o.msgCount == 1:
		sending = "Sending 1 message."
	}
	out.line(d.name, "Connected as %s to %s. %s", d.name, cfg.Host, sending)

	if o.initReported != "" {
		var props map[string]any
		_ = json.Unmarshal([]byte(o.initReported), &props) // checked
		if _, err := c.UpdateReported(ctx, props); err != nil {
			return fmt.Errorf("%s: report initial properties: %w", d.name, err)
		}
	}
	reboots := make(chan struct{}, 1)
	err = c.OnMethod(ctx, func(name string, payload []byte) (int, []byte) {
		status, resp := o.responseCode, []byte(o.responsePayload)
		if o.profile == "reboot" && name == "reboot" {
			status, resp = 200, []byte(`{"result":"Reboot started"}`)
			select {
			case reboots <- struct{}{}:
			default: // a reboot is pending already
			}
		}
		out.line(d.name, "Method invoked: %s  payload %s → %d", name, compactJSON(payload), status)
		return status, resp
	})
	if err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	// Reports of desired changes go out in order from one goroutine: not
	// the MQTT client's delivery one, since a report waits for the hub's
	// response, which that goroutine delivers.
	acks := make(chan map[string]any, 256)
	if o.ackDesired {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case patch := <-acks:
					if _, err := c.UpdateReported(ctx, patch); err != nil && ctx.Err() == nil {
						out.line(d.name, "Reporting the desired properties failed: %v", err)
					}
				}
			}
		}()
	}
	if err := c.OnDesired(ctx, func(patch map[string]any, version int64) {
		b, _ := json.Marshal(patch)
		out.line(d.name, "Desired properties changed (version %d): %s", version, b)
		if o.ackDesired {
			select {
			case acks <- patch:
			case <-ctx.Done():
			}
		}
	}); err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	if o.ackDesired {
		// Catch up with what changed while the device was away.
		tw, err := c.Twin(ctx)
		if err != nil {
			return fmt.Errorf("%s: read the twin: %w", d.name, err)
		}
		if desired := tw.Desired.Properties(); len(desired) > 0 {
			if _, err := c.UpdateReported(ctx, desired); err != nil {
				return fmt.Errorf("%s: report the desired properties: %w", d.name, err)
			}
		}
	}
	if cfg.ModuleID == "" {
		if err := c.OnC2D(ctx, func(m device.Message) {
			props, _ := json.Marshal(m.Properties)
			out.line(d.name, "Cloud-to-device message %s: %s  properties %s", m.System["mid"], m.Body, props)
		}); err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
	}

	interval := time.Duration(o.msgInterval * float64(time.Second))
	sent, failed := 0, 0
	var next <-chan time.Time // nil: send now
	ticker := time.NewTimer(0)
	defer ticker.Stop()
	next = ticker.C
	for o.msgCount == 0 || sent+failed < o.msgCount {
		if o.msgCount == 0 {
			next = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-reboots:
			if err := o.reboot(ctx, c, out, d.name); err != nil && ctx.Err() == nil {
				out.line(d.name, "Reboot: %v", err)
			}
		case <-next:
			body, props := o.message(d.name, sent+failed+1)
			if err := c.SendEvent(ctx, props, body); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				failed++
				out.line(d.name, "Message %d not sent: %v", sent+failed, err)
			} else {
				sent++
			}
			ticker.Reset(interval)
		}
	}
	switch {
	case failed > 0:
		out.line(d.name, "Sent %d of %d messages.", sent, o.msgCount)
	case sent == 1:
		out.line(d.name, "Sent 1 message.")
	default:
		out.line(d.name, "Sent %d messages.", sent)
	}
	return nil
}

// message returns the body and properties of message n.
func (o *simulateOptions) message(name string, n int) ([]byte, map[string]string) {
	if o.data == "" {
		b, _ := json.Marshal(map[string]any{"deviceId": name, "messageNumber": n})
		return b, map[string]string{"$.ct": "application/json", "$.ce": "utf-8"}
	}
	ct := "text/plain"
	if json.Valid([]byte(o.data)) {
		ct = "application/json"
	}
	return []byte(o.data), map[string]string{"$.ct": ct, "$.ce": "utf-8"}
}

// reboot does what the device management tutorial's device does on a
// reboot method: report the time, then disconnect and connect again.
func (o *simulateOptions) reboot(ctx context.Context, c *device.Client, out *simPrinter, name string) error {
	if err := c.Flush(ctx); err != nil { // the method's answer goes out first
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339)
	patch := map[string]any{"iothubDM": map[string]any{"reboot": map[string]any{"lastReboot": now}}}
	if _, err := c.UpdateReported(ctx, patch); err != nil {
		return fmt.Errorf("report lastReboot: %w", err)
	}
	out.line(name, "Rebooting: reported iothubDM.reboot.lastReboot = %s; reconnecting…", now)
	if err := c.Reconnect(ctx); err != nil {
		return err
	}
	out.line(name, "Rebooted.")
	return nil
}

// compactJSON returns a JSON payload on one line, or the text as it is.
func compactJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	c, _ := json.Marshal(v)
	return string(c)
}

// simPrinter writes whole lines from several devices' goroutines, each
// prefixed with its device when there are several.
type simPrinter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix bool
}

func (p *simPrinter) line(name, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	text := fmt.Sprintf(format, args...)
	if p.prefix && name != "" {
		text = "[" + name + "] " + text
	}
	fmt.Fprintln(p.w, strings.TrimRight(text, "\n"))
}
