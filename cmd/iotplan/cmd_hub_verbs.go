package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/iotplan/iotplan/internal/hub"
)

// hubAPI is what the imperative hub commands use: the Hub contract plus
// the general query and the registry listing, which both the embedded hub
// and the REST client offer.
type hubAPI interface {
	hub.Hub
	Query(ctx context.Context, query string, opts hub.QueryOptions) (*hub.QueryPage, error)
	Devices(ctx context.Context, top int) ([]hub.Device, error)
}

// hubTarget selects the hub of an imperative command, as `az iot hub`
// does: --login or IOTHUB_CONNECTION_STRING name a hub reached over its
// REST API; without them, the embedded hub of the working folder.
type hubTarget struct {
	login    string
	caFile   string
	insecure bool
	output   string
}

func (t *hubTarget) register(f *pflag.FlagSet) {
	f.StringVarP(&t.login, "login", "l", "", "the hub's service connection string (default $IOTHUB_CONNECTION_STRING; without either, the embedded hub)")
	f.StringVar(&t.caFile, "ca-file", "", "PEM file of the CA to trust for the hub's certificate (iotplan hub serve: .iotplan/ca.pem)")
	f.BoolVar(&t.insecure, "insecure", false, "plain HTTP, for iotplan hub serve --insecure")
	f.StringVarP(&t.output, "output", "o", "json", "output format: json or table")
	f.StringP("hub-name", "n", "", "accepted for az compatibility; the connection string names the hub")
}

// open returns the hub and the host name devices connect to.
func (t *hubTarget) open(readOnly bool) (hubAPI, string, func() error, error) {
	if t.output != "json" && t.output != "table" {
		return nil, "", nil, fmt.Errorf("--output must be json or table, not %q", t.output)
	}
	login := t.login
	if login == "" {
		login = os.Getenv("IOTHUB_CONNECTION_STRING")
	}
	if login == "" {
		h, err := openHub(readOnly)
		if err != nil {
			return nil, "", nil, err
		}
		return h, hubHost, h.Close, nil
	}
	cs, err := hub.ParseConnectionString(login)
	if err != nil {
		return nil, "", nil, fmt.Errorf("--login: %w", err)
	}
	opts := hub.ClientOptions{Insecure: t.insecure, UserAgent: "iotplan", Logger: hubLog}
	if t.caFile != "" {
		pool, err := caPool(t.caFile)
		if err != nil {
			return nil, "", nil, fmt.Errorf("--ca-file: %w", err)
		}
		opts.RootCAs = pool
	}
	c, err := hub.NewClient(cs, opts)
	if err != nil {
		return nil, "", nil, err
	}
	return c, cs.HostName, func() error { return nil }, nil
}

// print writes v as the service returns it (JSON), or as a table of the
// given columns.
func (t *hubTarget) print(s *streams, v any, columns ...string) error {
	if t.output == "table" && len(columns) > 0 {
		return writeTable(s, v, columns)
	}
	return writeJSON(s, v)
}

// writeTable prints objects (or a list of them) as columns of their
// top-level JSON members.
func writeTable(s *streams, v any, columns []string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		var one map[string]any
		if err := json.Unmarshal(b, &one); err != nil {
			return writeJSON(s, v)
		}
		rows = []map[string]any{one}
	}
	tw := tabwriter.NewWriter(s.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(columns, "\t"))
	for _, r := range rows {
		cells := make([]string, len(columns))
		for i, c := range columns {
			switch x := r[c].(type) {
			case nil:
			case string:
				cells[i] = x
			default:
				j, _ := json.Marshal(x)
				cells[i] = string(j)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// parseJSONObject parses a flag's JSON object value.
func parseJSONObject(flag, v string) (map[string]any, error) {
	if v == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v", flag, err)
	}
	return m, nil
}

// addHubVerbs adds the imperative commands of `az iot hub` to the hub
// command.
func addHubVerbs(parent *cobra.Command, s *streams) {
	parent.AddCommand(
		newDeviceIdentityCmd(s),
		newModuleIdentityCmd(s),
		newTwinCmd(s, false),
		newTwinCmd(s, true),
		newInvokeMethodCmd(s, false),
		newInvokeMethodCmd(s, true),
		newHubQueryCmd(s),
		newC2DMessageCmd(s),
		newMonitorEventsCmd(s),
		newHubJobCmd(s),
		newHubConfigurationCmd(s),
	)
}

type identityFlags struct {
	deviceID, moduleID, status, statusReason, authMethod   string
	primaryThumb, secondaryThumb, primaryKey, secondaryKey string
	edge                                                   bool
	etag, keyType                                          string
	top                                                    int
}

func withHub(t *hubTarget, readOnly bool, fn func(ctx context.Context, h hubAPI, host string) error) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		h, host, closeHub, err := t.open(readOnly)
		if err != nil {
			return err
		}
		defer closeHub()
		return fn(cmd.Context(), h, host)
	}
}

func authMechanism(f *identityFlags) (*hub.AuthenticationMechanism, error) {
	m := &hub.AuthenticationMechanism{}
	switch f.authMethod {
	case "", "shared_private_key":
		m.Type = hub.AuthSAS
		if f.primaryKey != "" || f.secondaryKey != "" {
			m.SymmetricKey = &hub.SymmetricKey{PrimaryKey: f.primaryKey, SecondaryKey: f.secondaryKey}
		}
	case "x509_thumbprint":
		m.Type = hub.AuthSelfSigned
		if f.primaryThumb == "" {
			return nil, fmt.Errorf("--auth-method x509_thumbprint needs --primary-thumbprint")
		}
		p, sec := f.primaryThumb, f.secondaryThumb
		m.X509Thumbprint = &hub.X509Thumbprint{PrimaryThumbprint: &p}
		if sec != "" {
			m.X509Thumbprint.SecondaryThumbprint = &sec
		}
	case "x509_ca":
		m.Type = hub.AuthCertificateAuthority
	default:
		return nil, fmt.Errorf("--auth-method must be shared_private_key, x509_thumbprint or x509_ca, not %q", f.authMethod)
	}
	return m, nil
}

func newDeviceIdentityCmd(s *streams) *cobra.Command {
	t := &hubTarget{}
	f := &identityFlags{}
	cmd := &cobra.Command{Use: "device-identity", Short: "Manage device identities (az iot hub device-identity)"}
	idFlag := func(c *cobra.Command) {
		c.Flags().StringVarP(&f.deviceID, "device-id", "d", "", "the device ID")
		_ = c.MarkFlagRequired("device-id")
	}
	create := &cobra.Command{
		Use: "create", Short: "Create a device identity", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			auth, err := authMechanism(f)
			if err != nil {
				return err
			}
			d := &hub.Device{DeviceID: f.deviceID, Status: hub.Status(f.status), StatusReason: f.statusReason, Authentication: auth,
				Capabilities: &hub.DeviceCapabilities{IoTEdge: f.edge}}
			if f.status == "" {
				d.Status = hub.StatusEnabled
			}
			out, err := h.CreateDevice(ctx, d)
			if err != nil {
				return err
			}
			return t.print(s, redactDevice(out), "deviceId", "status", "connectionState")
		}),
	}
	idFlag(create)
	create.Flags().StringVar(&f.status, "status", "", "enabled (default) or disabled")
	create.Flags().StringVar(&f.statusReason, "status-reason", "", "why the device has its status")
	create.Flags().BoolVarP(&f.edge, "edge-enabled", "e", false, "an IoT Edge device")
	create.Flags().StringVar(&f.authMethod, "auth-method", "", "shared_private_key (default), x509_thumbprint or x509_ca")
	create.Flags().StringVar(&f.primaryThumb, "primary-thumbprint", "", "for x509_thumbprint")
	create.Flags().StringVar(&f.secondaryThumb, "secondary-thumbprint", "", "for x509_thumbprint")
	create.Flags().StringVar(&f.primaryKey, "primary-key", "", "explicit SAS primary key (base64); generated when absent")
	create.Flags().StringVar(&f.secondaryKey, "secondary-key", "", "explicit SAS secondary key (base64)")

	show := &cobra.Command{
		Use: "show", Short: "Show a device identity (keys hidden)", Args: cobra.NoArgs,
		RunE: withHub(t, true, func(ctx context.Context, h hubAPI, _ string) error {
			d, err := h.Device(ctx, f.deviceID)
			if err != nil {
				return err
			}
			return t.print(s, redactDevice(d), "deviceId", "status", "connectionState", "lastActivityTime")
		}),
	}
	idFlag(show)
	list := &cobra.Command{
		Use: "list", Short: "List device identities (up to --top, at most 1000)", Args: cobra.NoArgs,
		RunE: withHub(t, true, func(ctx context.Context, h hubAPI, _ string) error {
			ds, err := h.Devices(ctx, f.top)
			if err != nil {
				return err
			}
			out := make([]*hub.Device, len(ds))
			for i := range ds {
				out[i] = redactDevice(&ds[i])
			}
			return t.print(s, out, "deviceId", "status", "connectionState")
		}),
	}
	list.Flags().IntVar(&f.top, "top", 1000, "the most devices to list (1 to 1000)")
	update := &cobra.Command{
		Use: "update", Short: "Update a device identity's status", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			d, err := h.Device(ctx, f.deviceID)
			if err != nil {
				return err
			}
			if f.status != "" {
				d.Status = hub.Status(f.status)
			}
			if f.statusReason != "" {
				d.StatusReason = f.statusReason
			}
			etag := d.ETag
			if f.etag != "" {
				etag = f.etag
			}
			out, err := h.UpdateDevice(ctx, d, etag)
			if err != nil {
				return err
			}
			return t.print(s, redactDevice(out), "deviceId", "status", "statusReason")
		}),
	}
	idFlag(update)
	update.Flags().StringVar(&f.status, "status", "", "enabled or disabled")
	update.Flags().StringVar(&f.statusReason, "status-reason", "", "why the device has its status")
	update.Flags().StringVar(&f.etag, "etag", "", "update only if the identity's etag is this")
	del := &cobra.Command{
		Use: "delete", Short: "Delete a device identity, its twin and its modules", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			etag := f.etag
			if etag == "" {
				etag = "*"
			}
			return h.DeleteDevice(ctx, f.deviceID, etag)
		}),
	}
	idFlag(del)
	del.Flags().StringVar(&f.etag, "etag", "", "delete only if the identity's etag is this")

	cs := &cobra.Command{Use: "connection-string", Short: "Device connection strings"}
	csShow := &cobra.Command{
		Use: "show", Short: "Show a device's connection string (it holds the device's key)", Args: cobra.NoArgs,
		RunE: withHub(t, true, func(ctx context.Context, h hubAPI, host string) error {
			var auth *hub.AuthenticationMechanism
			if f.moduleID != "" {
				m, err := h.Module(ctx, f.deviceID, f.moduleID)
				if err != nil {
					return err
				}
				auth = m.Authentication
			} else {
				d, err := h.Device(ctx, f.deviceID)
				if err != nil {
					return err
				}
				auth = d.Authentication
			}
			conn := hub.ConnectionString{HostName: host, DeviceID: f.deviceID, ModuleID: f.moduleID}
			switch {
			case auth != nil && auth.Type == hub.AuthSAS && auth.SymmetricKey != nil:
				conn.SharedAccessKey = auth.SymmetricKey.PrimaryKey
				if f.keyType == "secondary" {
					conn.SharedAccessKey = auth.SymmetricKey.SecondaryKey
				}
			case auth != nil && (auth.Type == hub.AuthSelfSigned || auth.Type == hub.AuthCertificateAuthority):
				conn.X509 = true
			default:
				return errors.New("the identity has no SAS key or certificate to connect with")
			}
			return writeJSON(s, map[string]string{"connectionString": conn.Secret()})
		}),
	}
	idFlag(csShow)
	csShow.Flags().StringVarP(&f.moduleID, "module-id", "m", "", "a module of the device")
	csShow.Flags().StringVar(&f.keyType, "key-type", "primary", "primary or secondary")
	cs.AddCommand(csShow)

	for _, c := range []*cobra.Command{create, show, list, update, del, csShow} {
		t.register(c.Flags())
	}
	cmd.AddCommand(create, show, list, update, del, cs)
	return cmd
}

// redactDevice hides an identity's keys: they are shown only by
// connection-string show, on purpose.
func redactDevice(d *hub.Device) *hub.Device {
	c := *d
	if c.Authentication != nil && c.Authentication.SymmetricKey != nil {
		a := *c.Authentication
		a.SymmetricKey = &hub.SymmetricKey{PrimaryKey: "(sensitive value)", SecondaryKey: "(sensitive value)"}
		if d.Authentication.SymmetricKey.PrimaryKey == "" {
			a.SymmetricKey = nil
		}
		c.Authentication = &a
	}
	return &c
}

func redactModule(m *hub.Module) *hub.Module {
	c := *m
	if c.Authentication != nil && c.Authentication.SymmetricKey != nil && c.Authentication.SymmetricKey.PrimaryKey != "" {
		a := *c.Authentication
		a.SymmetricKey = &hub.SymmetricKey{PrimaryKey: "(sensitive value)", SecondaryKey: "(sensitive value)"}
		c.Authentication = &a
	}
	return &c
}

func newModuleIdentityCmd(s *streams) *cobra.Command {
	t := &hubTarget{}
	f := &identityFlags{}
	cmd := &cobra.Command{Use: "module-identity", Short: "Manage module identities (az iot hub module-identity)"}
	ids := func(c *cobra.Command, module bool) {
		c.Flags().StringVarP(&f.deviceID, "device-id", "d", "", "the device ID")
		_ = c.MarkFlagRequired("device-id")
		if module {
			c.Flags().StringVarP(&f.moduleID, "module-id", "m", "", "the module ID")
			_ = c.MarkFlagRequired("module-id")
		}
	}
	create := &cobra.Command{
		Use: "create", Short: "Create a module identity", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			auth, err := authMechanism(f)
			if err != nil {
				return err
			}
			m, err := h.CreateModule(ctx, &hub.Module{DeviceID: f.deviceID, ModuleID: f.moduleID, Authentication: auth})
			if err != nil {
				return err
			}
			return t.print(s, redactModule(m), "deviceId", "moduleId", "connectionState")
		}),
	}
	ids(create, true)
	create.Flags().StringVar(&f.authMethod, "auth-method", "", "shared_private_key (default), x509_thumbprint or x509_ca")
	create.Flags().StringVar(&f.primaryThumb, "primary-thumbprint", "", "for x509_thumbprint")
	create.Flags().StringVar(&f.secondaryThumb, "secondary-thumbprint", "", "for x509_thumbprint")
	show := &cobra.Command{
		Use: "show", Short: "Show a module identity (keys hidden)", Args: cobra.NoArgs,
		RunE: withHub(t, true, func(ctx context.Context, h hubAPI, _ string) error {
			m, err := h.Module(ctx, f.deviceID, f.moduleID)
			if err != nil {
				return err
			}
			return t.print(s, redactModule(m), "deviceId", "moduleId", "connectionState")
		}),
	}
	ids(show, true)
	list := &cobra.Command{
		Use: "list", Short: "List the modules of a device", Args: cobra.NoArgs,
		RunE: withHub(t, true, func(ctx context.Context, h hubAPI, _ string) error {
			ms, err := h.Modules(ctx, f.deviceID)
			if err != nil {
				return err
			}
			out := make([]*hub.Module, len(ms))
			for i := range ms {
				out[i] = redactModule(&ms[i])
			}
			return t.print(s, out, "deviceId", "moduleId", "connectionState")
		}),
	}
	ids(list, false)
	del := &cobra.Command{
		Use: "delete", Short: "Delete a module identity and its twin", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			return h.DeleteModule(ctx, f.deviceID, f.moduleID, "*")
		}),
	}
	ids(del, true)
	for _, c := range []*cobra.Command{create, show, list, del} {
		t.register(c.Flags())
	}
	cmd.AddCommand(create, show, list, del)
	return cmd
}

func newTwinCmd(s *streams, module bool) *cobra.Command {
	t := &hubTarget{}
	var deviceID, moduleID, desired, tags, etag string
	name, what := "twin", "device twins (az iot hub device-twin)"
	if module {
		name, what = "module-twin", "module twins (az iot hub module-twin)"
	}
	cmd := &cobra.Command{Use: name, Short: "Show and update " + what}
	ids := func(c *cobra.Command) {
		c.Flags().StringVarP(&deviceID, "device-id", "d", "", "the device ID")
		_ = c.MarkFlagRequired("device-id")
		if module {
			c.Flags().StringVarP(&moduleID, "module-id", "m", "", "the module ID")
			_ = c.MarkFlagRequired("module-id")
		}
		t.register(c.Flags())
	}
	show := &cobra.Command{
		Use: "show", Short: "Show the twin", Args: cobra.NoArgs,
		RunE: withHub(t, true, func(ctx context.Context, h hubAPI, _ string) error {
			var tw *hub.Twin
			var err error
			if module {
				tw, err = h.ModuleTwin(ctx, deviceID, moduleID)
			} else {
				tw, err = h.Twin(ctx, deviceID)
			}
			if err != nil {
				return err
			}
			return t.print(s, tw, "deviceId", "moduleId", "status", "version")
		}),
	}
	ids(show)
	update := &cobra.Command{
		Use: "update", Short: "Merge tags and desired properties into the twin (null removes a key)", Args: cobra.NoArgs,
		RunE: withHub(t, false, func(ctx context.Context, h hubAPI, _ string) error {
			d, err := parseJSONObject("--desired", desired)
			if err != nil {
				return err
			}
			tg, err := parseJSONObject("--tags", tags)
			if err != nil {
				return err
			}
			if d == nil && tg == nil {
				return errors.New("nothing to update: give --desired and/or --tags")
			}
			p := hub.TwinPatch{Tags: tg, Desired: d}
			var tw *hub.Twin
			if module {
				tw, err = h.PatchModuleTwin(ctx, deviceID, moduleID, p, etag)
			} else {
				tw, err = h.PatchTwin(ctx, deviceID, p, etag)
			}
			if err != nil {
				return err
			}
			return t.print(s, tw, "deviceId", "moduleId", "version")
		}),
	}
	ids(update)
	update.Flags().StringVar(&desired, "desired", "", "desired properties to merge, as a JSON object")
	update.Flags().StringVar(&tags, "tags", "", "tags to merge, as a JSON object")
	update.Flags().StringVar(&etag, "etag", "", "update only if the twin's etag is this")
	cmd.AddCommand(show, update)
	return cmd
}

func newInvokeMethodCmd(s *streams, module bool) *cobra.Command {
	t := &hubTarget{}
	var deviceID, moduleID, method, payload string
	var timeout, connectTimeout int
	name := "invoke-device-method"
	if module {
		name = "invoke-module-method"
	}
	cmd := &cobra.Command{
		Use: name, Short: "Call a direct method and print the device's answer", Args: cobra.NoArgs,
		RunE: withHub(t, true, func(ctx context.Context, h hubAPI, _ string) error {
			req := hub.MethodRequest{MethodName: method, ResponseTimeoutInSeconds: timeout, ConnectTimeoutInSeconds: connectTimeout}
			p := strings.TrimSpace(payload)
			if p == "" {
				p = "{}"
			}
			if !json.Valid([]byte(p)) {
				return fmt.Errorf("--method-payload is not JSON: %s", payload)
			}
			req.Payload = json.RawMessage(p)
			var res *hub.MethodResult
			var err error
			if module {
				res, err = h.InvokeModuleMethod(ctx, deviceID, moduleID, req)
			} else {
				res, err = h.InvokeDeviceMethod(ctx, deviceID, req)
			}
			if err != nil {
				return err
			}
			return writeJSON(s, res)
		}),
	}
	cmd.Flags().StringVarP(&deviceID, "device-id", "d", "", "the device ID")
	_ = cmd.MarkFlagRequired("device-id")
	if module {
		cmd.Flags().StringVarP(&moduleID, "module-id", "m", "", "the module ID")
		_ = cmd.MarkFlagRequired("module-id")
	}
	cmd.Flags().StringVar(&method, "method-name", "", "the method to call")
	_ = cmd.MarkFlagRequired("method-name")
	cmd.Flags().StringVar(&payload, "method-payload", "{}", "the payload, as JSON (null sends JSON null)")
	cmd.Flags().IntVar(&timeout, "timeout", 30, "seconds to wait for the answer (5 to 300)")
	cmd.Flags().IntVar(&connectTimeout, "connect-timeout", 0, "seconds to wait for an offline device to connect (0 to 300)")
	t.register(cmd.Flags())
	return cmd
}

func newHubQueryCmd(s *streams) *cobra.Command {
	t := &hubTarget{}
	var q string
	var top int
	cmd := &cobra.Command{
		Use: "query", Short: "Run a query of the IoT Hub query language and print every result", Args: cobra.NoArgs,
		RunE: withHub(t, true, func(ctx context.Context, h hubAPI, _ string) error {
			var items []json.RawMessage
			opts := hub.QueryOptions{PageSize: hub.DefaultQueryPageSize}
			for {
				page, err := h.Query(ctx, q, opts)
				if err != nil {
					return err
				}
				items = append(items, page.Items...)
				if page.Continuation == "" || top > 0 && len(items) >= top {
					break
				}
				opts.Continuation = page.Continuation
			}
			if top > 0 && len(items) > top {
				items = items[:top]
			}
			if items == nil {
				items = []json.RawMessage{}
			}
			if t.output == "table" {
				var rows []map[string]any
				for _, it := range items {
					var m map[string]any
					_ = json.Unmarshal(it, &m)
					rows = append(rows, m)
				}
				cols := map[string]bool{}
				for _, r := range rows {
					for k, v := range r {
						if _, obj := v.(map[string]any); !obj {
							cols[k] = true
						}
					}
				}
				names := make([]string, 0, len(cols))
				for k := range cols {
					names = append(names, k)
				}
				sort.Strings(names)
				return writeTable(s, rows, names)
			}
			return writeJSON(s, items)
		}),
	}
	cmd.Flags().StringVarP(&q, "query-command", "q", "", "the query, e.g. \"SELECT * FROM devices WHERE tags.site = 'berlin'\"")
	_ = cmd.MarkFlagRequired("query-command")
	cmd.Flags().IntVar(&top, "top", 0, "the most results to print (all when 0)")
	t.register(cmd.Flags())
	return cmd
}
