package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/term"

	"github.com/iotplan/iotplan/internal/config"
	"github.com/iotplan/iotplan/internal/state"
)

// varFlag is -var or -var-file: both append to one list, so that the
// command-line order decides which value of a variable wins, as in
// Terraform.
type varFlag struct {
	opts *[]config.VarOption
	file bool
}

func (v varFlag) String() string { return "" }
func (v varFlag) Type() string {
	if v.file {
		return "FILE"
	}
	return "NAME=VALUE"
}

func (v varFlag) Set(s string) error {
	if v.file {
		if s == "" {
			return fmt.Errorf("-var-file needs a file name")
		}
		// Read here, so that files outside the working folder work too.
		src, err := os.ReadFile(s)
		if err != nil {
			return fmt.Errorf("read variables file: %w", err)
		}
		*v.opts = append(*v.opts, config.VarOption{File: s, Src: src})
		return nil
	}
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q: expected NAME=VALUE", s)
	}
	*v.opts = append(*v.opts, config.VarOption{Name: name, Value: value})
	return nil
}

// configInput is what a command gives the configuration besides its files.
type configInput struct {
	vars  []config.VarOption
	input bool // ask for missing variables on a terminal
	// compactWarnings prints each warning as one line (-compact-warnings).
	compactWarnings bool
}

func (in *configInput) register(f *pflag.FlagSet) {
	f.Var(varFlag{opts: &in.vars}, "var", "set a variable: -var 'NAME=VALUE' (repeatable)")
	f.Var(varFlag{opts: &in.vars, file: true}, "var-file", "read variables from an HCL file (repeatable)")
	f.BoolVar(&in.input, "input", true, "ask for the values of required variables on a terminal; -input=false never asks")
}

// environ returns the process environment as a map.
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// knownFrom tells the configuration what the hub assigned to each resource
// of the state: keys, generation IDs and connection strings.
func knownFrom(st *state.State, host string) func(addr string) (map[string]cty.Value, bool) {
	if st == nil {
		return nil
	}
	return func(addr string) (map[string]cty.Value, bool) {
		r := st.Resources[addr]
		if r == nil {
			return nil, false
		}
		attrs := map[string]cty.Value{
			"device_id":     cty.StringVal(r.DeviceID),
			"auth_type":     cty.StringVal(configAuthName(string(r.Auth))),
			"key_version":   cty.NumberIntVal(int64(r.KeyVersion)),
			"generation_id": cty.StringVal(r.GenerationID),
		}
		if r.ModuleID != "" {
			attrs["module_id"] = cty.StringVal(r.ModuleID)
		}
		if r.PrimaryKey != "" {
			attrs["primary_key"] = cty.StringVal(r.PrimaryKey)
			attrs["secondary_key"] = cty.StringVal(r.SecondaryKey)
			cs := "HostName=" + host + ";DeviceId=" + r.DeviceID
			if r.ModuleID != "" {
				cs += ";ModuleId=" + r.ModuleID
			}
			attrs["connection_string"] = cty.StringVal(cs + ";SharedAccessKey=" + r.PrimaryKey)
		}
		return attrs, true
	}
}

// configAuthName is the configuration's name of a registry auth type.
func configAuthName(t string) string {
	switch t {
	case "selfSigned":
		return "x509_thumbprint"
	case "certificateAuthority":
		return "x509_ca"
	}
	return t
}

// loadConfigWith loads the configuration of the working folder. Required
// variables without a value are asked for on a terminal (unless
// in.input is false); diagnostics are printed, and a configuration with
// errors returns exitCode(1).
//
// Connection strings in the configuration carry the host name of the hub it
// manages: when that is not the embedded hub, the configuration is
// evaluated a second time with it.
func loadConfigWith(s *streams, in configInput, prior *state.State) (loadedConfig, error) {
	l := config.NewLoader(os.DirFS("."))
	opts := config.LoadOptions{Vars: in.vars, Env: environ(), Known: knownFrom(prior, hubHost)}
	cfg, diags := l.LoadWith(opts)
	if missing := l.MissingVariables(); len(missing) > 0 && in.input && s.InTTY {
		r := bufio.NewReader(s.In)
		for _, m := range missing {
			fmt.Fprintf(s.Out, "var.%s\n", m.Name)
			if m.Description != "" {
				fmt.Fprintf(s.Out, "  %s\n", m.Description)
			}
			fmt.Fprint(s.Out, "\n  Enter a value: ")
			var line string
			if f, ok := s.In.(*os.File); ok && m.Sensitive {
				b, err := term.ReadPassword(int(f.Fd()))
				if err != nil {
					return loadedConfig{}, fmt.Errorf("read the value of var.%s: %w", m.Name, err)
				}
				line = string(b)
			} else {
				var err error
				line, err = r.ReadString('\n')
				if err != nil && line == "" {
					return loadedConfig{}, fmt.Errorf("read the value of var.%s: %w", m.Name, err)
				}
			}
			fmt.Fprintln(s.Out)
			opts.Vars = append(opts.Vars, config.VarOption{Name: m.Name, Value: strings.TrimRight(line, "\r\n")})
		}
		cfg, diags = l.LoadWith(opts)
	}
	if !diags.HasErrors() && cfg.Hub != nil && prior != nil {
		if _, host, err := hubOf(cfg); err == nil && host != hubHost {
			opts.Known = knownFrom(prior, host)
			cfg, diags = l.LoadWith(opts)
		}
	}
	printDiagsWith(s, l.Files(), diags, in.compactWarnings)
	if diags.HasErrors() {
		return loadedConfig{}, exitCode(1)
	}
	return loadedConfig{cfg: cfg, files: l.Files(), vars: opts.Vars}, nil
}
