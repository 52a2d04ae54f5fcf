package config

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Loader loads the configuration of one working folder. It reads and parses
// the *.hcl files on the first Load and keeps them: later calls evaluate the
// same files again, with other variable values. A Loader is not safe for
// concurrent use.
type Loader struct {
	fsys   fs.FS
	parser *hclparse.Parser

	parsed     bool
	files      []parsedFile
	parseDiags hcl.Diagnostics
	varFiles   map[string]*varFile

	missing []MissingVariable
}

type parsedFile struct {
	name string
	body hcl.Body
}

// NewLoader returns a Loader for the working folder fsys. Loading reads
// nothing but fsys: the *.hcl files at its top, iotplan.iotvars and
// *.auto.iotvars there, -var-file files given by path, and the files that
// the configuration's file functions name.
func NewLoader(fsys fs.FS) *Loader {
	return &Loader{
		fsys:   fsys,
		parser: hclparse.NewParser(),
	}
}

// Files returns the source files parsed so far by name, for
// hcl.NewDiagnosticTextWriter to show source snippets. Besides the *.hcl
// files it holds the variables files, and the -var and IOTPLAN_VAR_name
// values under names like "<value for var.sites>".
func (l *Loader) Files() map[string]*hcl.File {
	return l.parser.Files()
}

// LoadOptions are the inputs of a load besides the configuration files.
type LoadOptions struct {
	// Vars are the -var and -var-file options in command-line order; for
	// one variable, a later option wins over an earlier one and over every
	// other source.
	Vars []VarOption
	// Env is the process environment: it gives IOTPLAN_VAR_name values and
	// the values of the env function.
	Env map[string]string
	// Known returns what the hub assigned to a resource instance when it
	// was last applied (prior state), by instance address: attributes such
	// as "device_id", "auth_type", "key_version", "primary_key",
	// "secondary_key", "generation_id" and "connection_string". Attributes
	// only the hub knows are unknown when Known is nil, reports nothing
	// for the instance, or reports a device_id, module_id, auth_type or
	// key_version other than the configuration's (the instance will be
	// replaced or its keys regenerated).
	Known func(addr string) (attrs map[string]cty.Value, ok bool)
}

// VarOption is one -var NAME=VALUE option (File empty) or one
// -var-file=FILE option.
type VarOption struct {
	// Name and Value are the variable and the text after "=" of -var.
	// Values of variables of a type other than string are HCL
	// expressions, as in Terraform.
	Name, Value string
	// File is the path of an HCL variables file, relative to the working
	// folder. Src holds its contents when the caller has read it (a file
	// outside the working folder); when Src is nil the file is read from
	// the working folder.
	File string
	Src  []byte
}

// MissingVariable is a required variable that has no value.
type MissingVariable struct {
	Name        string
	Description string
	Type        string // the type constraint as written, such as list(string); "" when not declared
	Sensitive   bool
}

// Mark is the type of the cty marks the configuration puts on values.
type Mark string

// SensitiveMark marks sensitive values: SAS keys, connection strings and
// the values of sensitive variables, and whatever is computed from them.
const SensitiveMark = Mark("sensitive")

// Load evaluates the configuration with the raw -var values vars (name to
// the text after "=") and returns the desired model; it is LoadWith with
// those -var options in name order and no environment.
func (l *Loader) Load(vars map[string]string) (*Config, hcl.Diagnostics) {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	opts := LoadOptions{}
	for _, n := range names {
		opts.Vars = append(opts.Vars, VarOption{Name: n, Value: vars[n]})
	}
	return l.LoadWith(opts)
}

// MissingVariables returns the required variables that had no value in
// the last load, in declaration order, so that a caller on a terminal can
// ask for them and load again with their values as -var options.
func (l *Loader) MissingVariables() []MissingVariable {
	return l.missing
}

// LoadWith evaluates the configuration with opts and returns the desired
// model. The model is best-effort when the diagnostics hold errors:
// callers must check HasErrors before using it.
func (l *Loader) LoadWith(opts LoadOptions) (*Config, hcl.Diagnostics) {
	cfg := &Config{}
	l.missing = nil
	files, parseDiags := l.parse()
	diags := append(hcl.Diagnostics(nil), parseDiags...)
	if diags.HasErrors() {
		return cfg, diags
	}

	var root rootBlocks
	for _, f := range files {
		var s rootBlocks
		fileDiags := gohcl.DecodeBody(f.body, nil, &s)
		for _, d := range fileDiags {
			if d.Summary == "Unsupported block type" {
				d.Detail += " A configuration file may contain variable, locals, device, device_module, configuration, job, output, moved, import, iotplan and hub blocks."
			}
		}
		diags = append(diags, fileDiags...)
		root.Variables = append(root.Variables, s.Variables...)
		root.Locals = append(root.Locals, s.Locals...)
		root.Devices = append(root.Devices, s.Devices...)
		root.Modules = append(root.Modules, s.Modules...)
		root.Outputs = append(root.Outputs, s.Outputs...)
		root.Moved = append(root.Moved, s.Moved...)
		root.Imports = append(root.Imports, s.Imports...)
		root.Settings = append(root.Settings, s.Settings...)
		root.Hubs = append(root.Hubs, s.Hubs...)
		root.Configs = append(root.Configs, s.Configs...)
		root.Jobs = append(root.Jobs, s.Jobs...)
	}

	r := newRun(l, opts)
	r.decodeVariables(root.Variables)
	localNames := r.declareLocals(root.Locals)
	r.declareResources(TypeDevice, root.Devices)
	r.declareResources(TypeModule, root.Modules)
	r.checkDependsOn()
	r.evaluate(localNames)

	instances := map[string]bool{}
	for _, res := range r.resOrder {
		cfg.Devices = append(cfg.Devices, res.devices...)
		cfg.Modules = append(cfg.Modules, res.modules...)
	}
	sort.SliceStable(cfg.Devices, func(i, j int) bool { return addrLess(cfg.Devices[i].Addr, cfg.Devices[j].Addr) })
	sort.SliceStable(cfg.Modules, func(i, j int) bool { return addrLess(cfg.Modules[i].Addr, cfg.Modules[j].Addr) })
	for _, d := range cfg.Devices {
		instances[d.Addr.String()] = true
	}
	for _, m := range cfg.Modules {
		instances[m.Addr.String()] = true
	}
	r.checkIdentities(cfg.Devices, cfg.Modules)
	r.linkDependencies(cfg.Devices, cfg.Modules)

	cfg.Outputs = r.decodeOutputs(root.Outputs)
	cfg.Hub = r.decodeHub(root.Hubs)
	cfg.Backend = r.decodeSettings(root.Settings)
	cfg.Moved = r.decodeMoved(root.Moved, instances)
	cfg.Imports = r.decodeImports(root.Imports, cfg.Devices, cfg.Modules)
	cfg.Configurations = r.decodeConfigurations(root.Configs)
	cfg.Jobs = r.decodeJobs(root.Jobs)

	l.missing = r.missing
	diags = append(diags, r.diags...)
	return cfg, dedupe(diags)
}

// addrLess orders addresses as their strings sort, except that count
// indexes sort as numbers: thermo[2] before thermo[10].
func addrLess(a, b Addr) bool {
	if a.Type != b.Type || a.Name != b.Name {
		return a.Resource().String() < b.Resource().String()
	}
	ai, aInt := a.Key.(int)
	bi, bInt := b.Key.(int)
	if aInt && bInt {
		return ai < bi
	}
	return a.String() < b.String()
}

// parse reads and parses the *.hcl files at the top of the folder, in name
// order, once per Loader.
func (l *Loader) parse() ([]parsedFile, hcl.Diagnostics) {
	if l.parsed {
		return l.files, l.parseDiags
	}
	l.parsed = true
	var diags hcl.Diagnostics
	entries, err := fs.ReadDir(l.fsys, ".")
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the working folder",
			Detail:   fmt.Sprintf("The configuration files could not be listed: %s.", err),
		})
		l.parseDiags = diags
		return nil, diags
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".hcl") && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail:   "There are no *.hcl files in the folder. Run iotplan in the folder that holds the configuration, or write one, such as main.hcl with a device block.",
		})
	}
	for _, name := range names {
		src, err := fs.ReadFile(l.fsys, name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   fmt.Sprintf("The file %s could not be read: %s.", name, fileError(name, err)),
			})
			continue
		}
		f, fileDiags := l.parser.ParseHCL(src, name)
		diags = append(diags, fileDiags...)
		if f != nil {
			l.files = append(l.files, parsedFile{name: name, body: f.Body})
		}
	}
	l.parseDiags = diags
	return l.files, diags
}

// rootBlocks is the fixed skeleton of a configuration file. Block bodies stay
// undecoded until their kind's own pass.
type rootBlocks struct {
	Variables []*variableBlock   `hcl:"variable,block"`
	Locals    []*localsBlock     `hcl:"locals,block"`
	Devices   []*resourceBlock   `hcl:"device,block"`
	Modules   []*resourceBlock   `hcl:"device_module,block"`
	Outputs   []*outputBlock     `hcl:"output,block"`
	Moved     []*movedBlock      `hcl:"moved,block"`
	Imports   []*importBlock     `hcl:"import,block"`
	Settings  []*settingsBlock   `hcl:"iotplan,block"`
	Hubs      []*hubBlock        `hcl:"hub,block"`
	Configs   []*automationBlock `hcl:"configuration,block"`
	Jobs      []*automationBlock `hcl:"job,block"`
}

// dedupe drops diagnostics that repeat an earlier one word for word at the
// same place, as the instances of a for_each block do when they share a
// mistake.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	var out hcl.Diagnostics
	for _, d := range diags {
		key := fmt.Sprintf("%d\x00%s\x00%s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			key += "\x00" + d.Subject.String()
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, d)
	}
	return out
}
