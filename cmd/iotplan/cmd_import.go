package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iotplan/iotplan/internal/apply"
	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/plan"
	"github.com/iotplan/iotplan/internal/state"
)

type importOptions struct {
	configInput
	statePath   string
	lockTimeout time.Duration
}

func newImportCmd(s *streams) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import ADDRESS ID",
		Short: "Take over a device or module that exists on the hub",
		Long: `Record an identity that exists on the hub in the state, under an address the
configuration declares, so that iotplan manages it from now on. Nothing is
written to the hub: the next plan shows how it differs from the configuration.

ID is a device ID, or DEVICE_ID/MODULE_ID for a device_module.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), s, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	o.configInput.register(f)
	f.StringVar(&o.statePath, "state", defaultState, "path of the state file")
	f.DurationVar(&o.lockTimeout, "lock-timeout", 0, "how long to wait for the state lock, e.g. 30s")
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
	lc, err := loadConfigWith(s, o.configInput, prior, hubHost)
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
	h, err := openHub(false)
	if err != nil {
		return err
	}
	defer h.Close()
	actual, err := plan.Refresh(ctx, h, 1000)
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
	if _, err := apply.Apply(ctx, h, &plan.Plan{Lineage: p.Lineage, Serial: p.Serial, Changes: []*plan.Change{ch}}, st, apply.Options{}); err != nil {
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
