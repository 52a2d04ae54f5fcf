package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/localhub"
	"github.com/iotplan/iotplan/internal/localhub/gateway"
	"github.com/iotplan/iotplan/internal/localhub/server"
)

// serveOptions are the flags of `iotplan hub serve`.
type serveOptions struct {
	dataDir   string
	httpAddr  string
	mqttAddr  string
	tlsCert   string
	tlsKey    string
	insecure  bool
	hostName  string
	readyFile string
	// ready is told the served hub once it accepts requests; tests wait
	// on it.
	ready func(servedHub)
}

// servedHub is what `hub serve` tells its user and its tests.
type servedHub struct {
	restAddr         string // the REST listener's address
	mqttAddr         string // the device MQTT listener's address
	hostName         string // HostName of the connection strings
	connectionString string // iothubowner's; secret
	caFile           string // "" with --insecure or --tls-cert
}

// The default REST address: the Azure SDKs reach the service API only on
// port 443 of the connection string's HostName.
const defaultServeAddr = "127.0.0.1:443"

// The default device MQTT address, as devices expect it.
const defaultMQTTAddr = "127.0.0.1:8883"

func newHubServeCmd(s *streams) *cobra.Command { return hubServeCmd(s, nil) }

func hubServeCmd(s *streams, ready func(servedHub)) *cobra.Command {
	o := serveOptions{ready: ready}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the local hub as Azure IoT Hub does, for iotplan and the Azure IoT SDKs",
		Long: `Serve the local hub of the working folder (.iotplan/hub.db, or --data) over
IoT Hub's service REST API, api-version 2021-04-12, and its device MQTT
endpoint (MQTT 3.1.1 on 127.0.0.1:8883, and MQTT over WebSocket on the REST
port at /$iothub/websocket), until Ctrl-C.

It listens on 127.0.0.1:443 over HTTPS, as the Azure IoT SDKs need: their
service clients reach a hub only on port 443 of the connection string's
HostName. On first start it creates a CA and a server certificate for
localhost, 127.0.0.1 and ::1 in the data folder (ca.pem, server.pem); trust
ca.pem, e.g. with NODE_EXTRA_CA_CERTS for Node.js. Port 443 needs root or the
CAP_NET_BIND_SERVICE capability; iotplan's own client can use any port
(--http 127.0.0.1:8443), or plain HTTP (--insecure).

It prints the owner (iothubowner) connection string. While it serves, the
hub database is its own: plan and apply reach the hub through it, with a
hub block naming that connection string.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHubServe(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data", dataDir, "folder of the hub database (hub.db) and its certificates")
	f.StringVar(&o.httpAddr, "http", defaultServeAddr, "address of the service REST API")
	f.StringVar(&o.mqttAddr, "mqtt", defaultMQTTAddr, "address of the device MQTT endpoint")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve with this certificate (PEM) instead of a generated one; needs --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "the key (PEM) of --tls-cert")
	f.BoolVar(&o.insecure, "insecure", false, "serve plain HTTP: only iotplan's own client can use it")
	f.StringVar(&o.hostName, "host-name", "localhost", "the hub's host name in its connection strings; generated certificates hold it too")
	f.StringVar(&o.readyFile, "ready-file", "", "write the REST address to this file once the hub serves")
	return cmd
}

func runHubServe(ctx context.Context, s *streams, o serveOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second Ctrl-C during the shutdown ends the process at once.
	context.AfterFunc(ctx, stop)

	h, err := localhub.Open(filepath.Join(o.dataDir, "hub.db"), localhub.Options{})
	if err != nil {
		return err
	}
	defer h.Close()
	stats, err := h.Statistics(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return listenError(o.httpAddr, err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	hostName := o.hostName
	if !(port == "443" && !o.insecure) && !(port == "80" && o.insecure) {
		hostName = net.JoinHostPort(o.hostName, port)
	}

	info := servedHub{restAddr: ln.Addr().String(), hostName: hostName}
	log := slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srvOpts := server.Options{HostName: hostName, Logger: log}
	var identity *server.Identity
	switch {
	case o.insecure:
	case o.tlsCert != "":
		if identity, err = server.LoadIdentity(o.tlsCert, o.tlsKey); err != nil {
			return err
		}
	default:
		var names []string
		if o.hostName != "localhost" {
			names = append(names, o.hostName)
		}
		if identity, err = server.EnsureIdentity(o.dataDir, names, time.Now()); err != nil {
			return fmt.Errorf("make the hub's TLS certificate: %w", err)
		}
		info.caFile = identity.CAFile
	}
	if identity != nil {
		srvOpts.TLS = identity.TLSConfig()
	}
	owner, err := ownerConnectionString(ctx, h, hostName)
	if err != nil {
		return err
	}
	info.connectionString = owner

	// The device gateway: MQTT on its own port, and MQTT over WebSocket
	// through the REST server.
	gwOpts := gateway.Options{HostName: hostName, Logger: log}
	if srvOpts.TLS != nil {
		gwOpts.TLS = srvOpts.TLS.Clone()
		// X.509 devices present a client certificate, over WebSocket too.
		srvOpts.TLS.ClientAuth = tls.RequestClientCert
	}
	gw, err := gateway.New(h, gwOpts)
	if err != nil {
		return err
	}
	srvOpts.WebSocket = gw.WebSocketHandler()
	// Cloud-to-device and device-to-cloud messages over REST: the local
	// extension (docs/local-extensions.md).
	srvOpts.SendC2D, srvOpts.Subscribe = localMessages(gw)
	mqttLn, err := net.Listen("tcp", o.mqttAddr)
	if err != nil {
		return listenError(o.mqttAddr, err)
	}
	defer mqttLn.Close()
	info.mqttAddr = mqttLn.Addr().String()
	_, mqttPort, _ := net.SplitHostPort(info.mqttAddr)
	scheme := "mqtts://"
	if o.insecure {
		scheme = "mqtt://"
	}

	// The endpoints served, each until ctx is done.
	rest := server.New(h, srvOpts)
	endpoints := []endpoint{{
		name: "REST (service API)",
		url:  restURL(o, hostName),
		note: "(api-version " + server.APIVersion + ")",
		run:  func(ctx context.Context) error { return rest.Run(ctx, ln) },
	}, {
		name: "MQTT (devices)",
		url:  scheme + net.JoinHostPort(o.hostName, mqttPort),
		run:  func(ctx context.Context) error { return gw.Run(ctx, mqttLn) },
	}}

	printServing(s, o, stats.TotalDeviceCount, endpoints, identity, info, port)
	if o.readyFile != "" {
		if err := writeReadyFile(o.readyFile, info.restAddr, info.mqttAddr); err != nil {
			return err
		}
	}
	fmt.Fprintln(s.Out, "Ready. Ctrl-C to stop.")
	if o.ready != nil {
		o.ready(info)
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, ep := range endpoints {
		g.Go(func() error { return ep.run(gctx) })
	}
	// The hub's own work: jobs at their start times, and the automatic
	// configurations.
	g.Go(func() error { return h.Run(gctx) })
	err = g.Wait()
	if err != nil {
		return err
	}
	fmt.Fprintln(s.Out, "Stopped.")
	return nil
}

// writeReadyFile writes the REST address and the MQTT address, a line each,
// to path through a file renamed into place, so that a script waiting for
// path never reads half of it.
func writeReadyFile(path, restAddr, mqttAddr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(restAddr+"\n"+mqttAddr+"\n"), 0o644); err != nil {
		return fmt.Errorf("write --ready-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write --ready-file: %w", err)
	}
	return nil
}

// endpoint is one listener of the served hub.
type endpoint struct {
	name, url, note string
	run             func(ctx context.Context) error
}

func (o *serveOptions) check() error {
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together: give both, or neither to use a generated certificate")
	case o.insecure && o.tlsCert != "":
		return errors.New("--insecure serves plain HTTP: it takes no --tls-cert")
	case o.dataDir == "":
		return errors.New("--data needs a folder")
	}
	if !hostNameRE.MatchString(o.hostName) {
		return fmt.Errorf("--host-name %q is not a host name (letters, digits, '-', '.' and '_', without a port)", o.hostName)
	}
	return nil
}

// hostNameRE is what IoT Hub's connection strings accept as a HostName,
// without the port `hub serve` adds itself.
var hostNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-.]+$`)

// listenError explains why the REST address cannot be had, and what to do.
func listenError(addr string, err error) error {
	alt := "iotplan hub serve --http 127.0.0.1:8443"
	note := "iotplan's own client can use another port (HostName=localhost:8443 in its connection string); the Azure IoT SDKs reach the service API only on port 443"
	switch {
	case errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission):
		return fmt.Errorf("cannot listen on %s: permission denied. Ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (sudo setcap cap_net_bind_service=+ep \"$(command -v iotplan)\"); or serve on another port: %s. %s",
			addr, alt, note)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: another program already uses it; stop it, or serve on another port: %s. %s", addr, alt, note)
	}
	return fmt.Errorf("cannot listen on %s: %w", addr, err)
}

// ownerConnectionString is iothubowner's connection string for hostName.
func ownerConnectionString(ctx context.Context, h *localhub.Hub, hostName string) (string, error) {
	policies, err := h.Policies(ctx)
	if err != nil {
		return "", err
	}
	p := hub.FindPolicy(policies, "iothubowner")
	if p == nil {
		return "", errors.New("the hub has no iothubowner policy")
	}
	cs := hub.ConnectionString{HostName: hostName, SharedAccessKeyName: p.KeyName, SharedAccessKey: p.PrimaryKey}
	return cs.Secret(), nil
}

func restURL(o serveOptions, hostName string) string {
	scheme := "https"
	if o.insecure {
		scheme = "http"
	}
	if !strings.Contains(hostName, ":") {
		port := "443"
		if o.insecure {
			port = "80"
		}
		hostName = net.JoinHostPort(hostName, port)
	}
	return scheme + "://" + hostName
}

// printServing writes what UX.md shows: the data folder, the endpoints,
// the CA to trust and the owner connection string.
func printServing(s *streams, o serveOptions, devices int64, endpoints []endpoint, id *server.Identity, info servedHub, port string) {
	noun := "devices"
	if devices == 1 {
		noun = "device"
	}
	fmt.Fprintf(s.Out, "iotplan local hub — data in %s (%s %s)\n", o.dataDir, thousands(devices), noun)
	for _, ep := range endpoints {
		fmt.Fprintf(s.Out, "  %-20s %-26s %s\n", ep.name, ep.url, ep.note)
	}
	switch {
	case o.insecure:
		fmt.Fprintln(s.Out, "  Plain HTTP: only iotplan's own client can use it (hub { insecure = true }); the Azure IoT SDKs need HTTPS.")
	case info.caFile != "":
		abs := info.caFile
		if a, err := filepath.Abs(abs); err == nil {
			abs = a
		}
		fresh := ""
		if id.CreatedCA {
			fresh = "new; "
		}
		fmt.Fprintf(s.Out, "  %-20s %s   (%strust it: NODE_EXTRA_CA_CERTS=%s)\n", "CA certificate", info.caFile, fresh, abs)
	default:
		fmt.Fprintf(s.Out, "  %-20s %s\n", "TLS certificate", o.tlsCert)
	}
	if port != "443" && !o.insecure {
		fmt.Fprintf(s.Out, "  The Azure IoT SDKs reach the service API only on port 443; on port %s only iotplan's own client can.\n", port)
	}
	fmt.Fprintln(s.Out, "  Owner connection string:")
	fmt.Fprintf(s.Out, "    %s\n", info.connectionString)
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
