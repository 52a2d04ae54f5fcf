package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/apply"
	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/hub"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

type importOptions struct {
	configInput
	statePath   string
	lockTimeout time.Duration
	query       string
	generateOut string
}

func newImportCmd(s *streams) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import ADDRESS ID | import -query QUERY -generate-config-out FILE",
		Short: "Take over devices or modules that exist on the hub",
		Long: `Record an identity that exists on the hub in the state, under an address the
configuration declares, so that iotplan manages it from now on. Nothing is
written to the hub: the next plan shows how it differs from the configuration.
ID is a device ID, or DEVICE_ID/MODULE_ID for a device_module.

With -query, every device (FROM devices) or module (FROM devices.modules) the
query matches that iotplan does not manage yet is adopted at once: iotplan
writes their configuration to the -generate-config-out file, grouping
identities of the same shape under one for_each block, and records them in the
state with all their tags and desired properties. The next plan shows no
changes.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.query != "" || o.generateOut != "" {
				if len(args) != 0 {
					return fmt.Errorf("-query imports what the query matches: give no ADDRESS or ID")
				}
				if o.query == "" || o.generateOut == "" {
					return fmt.Errorf("-query and -generate-config-out go together")
				}
				return runImportQuery(cmd.Context(), s, o)
			}
			if len(args) != 2 {
				return fmt.Errorf("import takes ADDRESS and ID, or -query and -generate-config-out")
			}
			return runImport(cmd.Context(), s, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	o.configInput.register(f)
	f.StringVar(&o.statePath, "state", defaultState, "path of the state file")
	f.DurationVar(&o.lockTimeout, "lock-timeout", 0, "how long to wait for the state lock, e.g. 30s")
	f.StringVar(&o.query, "query", "", "adopt every identity this query matches (SELECT * FROM devices WHERE ...)")
	f.StringVar(&o.generateOut, "generate-config-out", "", "write the configuration of what -query adopts to this new file")
	return cmd
}

func runImport(ctx context.Context, s *streams, o importOptions, address, id string) error {
	addr, err := config.ParseAddr(address)
	if err != nil {
		return err
	}
	if addr.Key == nil && strings.Contains(address, "[") {
		return fmt.Errorf("%s: not an instance address", address)
	}
	ls, err := lockState(o.statePath, "import", o.lockTimeout)
	if err != nil {
		return err
	}
	defer ls.Close()
	prior, err := ls.file.Load()
	if err != nil {
		return err
	}
	if prior.Resources[addr.String()] != nil {
		return fmt.Errorf("%s is already managed (device %q); remove it from the state first (iotplan state rm) to import another", addr, prior.Resources[addr.String()].HubID())
	}
	lc, err := loadConfigWith(s, o.configInput, prior)
	if err != nil {
		return err
	}
	im := &config.Import{To: addr, ID: id, DeviceID: id}
	if addr.Type == config.TypeModule {
		dev, mod, ok := strings.Cut(id, "/")
		if !ok || dev == "" || mod == "" {
			return fmt.Errorf("a device_module is imported by DEVICE_ID/MODULE_ID, not %q", id)
		}
		im.DeviceID, im.ModuleID = dev, mod
	}
	if !declares(lc.cfg, addr.String()) {
		return fmt.Errorf("the configuration does not declare %s: add its block first, then import", addr)
	}
	cfg := *lc.cfg
	cfg.Imports = []*config.Import{im}
	h, err := openFleetHub(lc.cfg, false)
	if err != nil {
		return err
	}
	defer h.Close()
	actual, err := plan.Refresh(ctx, h, h.pageSize)
	if err != nil {
		return err
	}
	p, diags := plan.Diff(&cfg, prior, actual, plan.Options{Targets: []string{addr.String()}})
	printDiags(s, lc.files, diags)
	if diags.HasErrors() {
		return exitCode(1)
	}
	ch, err := plan.ImportOnly(p, addr.String(), actual)
	if err != nil {
		return err
	}
	if ch.After.HubID() != id {
		return fmt.Errorf("%s declares %q, not %q: the ID to import must be the one the configuration gives", addr, ch.After.HubID(), id)
	}
	st := state.NewSync(prior)
	if _, err := apply.Apply(ctx, h.Hub, &plan.Plan{Lineage: p.Lineage, Serial: p.Serial, Changes: []*plan.Change{ch}}, st, apply.Options{}); err != nil {
		return err
	}
	final := st.Close()
	if err := ls.file.Save(final); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "%s: Importing from ID %q… done\n\nImport successful! %s is now managed by iotplan.\nRun \"iotplan plan\" to see how it differs from the configuration.\n", addr, id, addr)
	return nil
}

func declares(cfg *config.Config, addr string) bool {
	for _, d := range cfg.Devices {
		if d.Addr.String() == addr {
			return true
		}
	}
	for _, m := range cfg.Modules {
		if m.Addr.String() == addr {
			return true
		}
	}
	return false
}

// runImportQuery adopts every identity a query matches that the state does
// not hold: it writes their configuration and records them in the state.
func runImportQuery(ctx context.Context, s *streams, o importOptions) error {
	if _, err := os.Stat(o.generateOut); err == nil {
		return fmt.Errorf("-generate-config-out: %s already exists; iotplan writes only a new file", o.generateOut)
	}
	if !strings.HasSuffix(o.generateOut, ".hcl") {
		return fmt.Errorf("-generate-config-out: %s must end in .hcl to be part of the configuration", o.generateOut)
	}
	ls, err := lockState(o.statePath, "import", o.lockTimeout)
	if err != nil {
		return err
	}
	defer ls.Close()
	prior, err := ls.file.Load()
	if err != nil {
		return err
	}
	lc, err := loadConfigWith(s, o.configInput, prior)
	if err != nil {
		return err
	}
	h, err := openFleetHub(lc.cfg, false)
	if err != nil {
		return err
	}
	defer h.Close()

	managed := map[string]bool{}
	for _, r := range prior.Resources {
		managed[r.HubID()] = true
	}
	var twins []importedTwin
	opts := hub.QueryOptions{PageSize: h.pageSize}
	for {
		page, err := h.QueryTwins(ctx, o.query, opts)
		if err != nil {
			return fmt.Errorf("-query: %w", err)
		}
		for i := range page.Twins {
			t := &page.Twins[i]
			it := importedTwin{twin: t, module: t.ModuleID != "", tags: t.Tags, desired: t.Properties.Desired.Properties()}
			if !managed[hubIDOf(it)] && !strings.HasPrefix(t.ModuleID, "$") {
				twins = append(twins, it)
			}
		}
		if page.Continuation == "" {
			break
		}
		opts.Continuation = page.Continuation
	}
	if len(twins) == 0 {
		fmt.Fprintln(s.Out, "The query matches nothing that iotplan does not manage already: nothing to import.")
		return nil
	}
	taken := map[string]bool{}
	for _, d := range lc.cfg.Devices {
		taken[d.Addr.Name] = true
	}
	for _, m := range lc.cfg.Modules {
		taken[m.Addr.Name] = true
	}
	src, blocks := generateConfig(twins, taken)
	if err := os.WriteFile(o.generateOut, src, 0o644); err != nil {
		return fmt.Errorf("-generate-config-out: %w", err)
	}
	// The configuration with the new file must declare exactly what is
	// imported; otherwise the file is removed and nothing is recorded.
	full, err := loadConfigWith(s, o.configInput, prior)
	if err != nil {
		os.Remove(o.generateOut)
		return fmt.Errorf("the generated configuration does not load; %s was not kept", o.generateOut)
	}
	cfg := *full.cfg
	cfg.Imports = nil
	var targets []string
	for _, b := range blocks {
		for id, addr := range b.addrs {
			a, err := config.ParseAddr(addr)
			if err != nil {
				os.Remove(o.generateOut)
				return err
			}
			dev, mod, _ := strings.Cut(id, "/")
			cfg.Imports = append(cfg.Imports, &config.Import{To: a, ID: id, DeviceID: dev, ModuleID: mod})
			targets = append(targets, addr)
		}
	}
	actual, err := plan.Refresh(ctx, h, h.pageSize)
	if err != nil {
		os.Remove(o.generateOut)
		return err
	}
	p, diags := plan.Diff(&cfg, prior, actual, plan.Options{Targets: targets})
	printDiags(s, full.files, diags)
	if diags.HasErrors() {
		os.Remove(o.generateOut)
		return exitCode(1)
	}
	imp := &plan.Plan{Lineage: p.Lineage, Serial: p.Serial}
	for _, addr := range targets {
		ch, err := plan.ImportOnly(p, addr, actual)
		if err != nil {
			os.Remove(o.generateOut)
			return err
		}
		imp.Changes = append(imp.Changes, ch)
	}
	st := state.NewSync(prior)
	_, applyErr := apply.Apply(ctx, h.Hub, imp, st, apply.Options{Save: ls.file.Save})
	final := st.Close()
	if err := ls.file.Save(final); err != nil {
		return err
	}
	if applyErr != nil {
		return applyErr
	}
	fmt.Fprintf(s.Out, "Imported %d %s into %d %s, written to %s.\nState saved to %s (serial %d).\nRun \"iotplan plan\": it should show no changes.\n",
		len(targets), plural(len(targets), "identity", "identities"), len(blocks), plural(len(blocks), "block", "blocks"), o.generateOut, ls.path, final.Serial)
	return nil
}
