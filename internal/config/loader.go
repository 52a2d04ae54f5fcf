package config

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty/function"
)

// Loader loads the configuration of one working folder. It reads and parses
// the *.hcl files on the first Load and keeps them: later calls evaluate the
// same files again, with other variable values. A Loader is not safe for
// concurrent use.
type Loader struct {
	fsys   fs.FS
	parser *hclparse.Parser
	funcs  map[string]function.Function

	parsed     bool
	files      []parsedFile
	parseDiags hcl.Diagnostics
}

type parsedFile struct {
	name string
	body hcl.Body
}

// NewLoader returns a Loader for the working folder fsys. Loading reads
// nothing but fsys: the *.hcl files at its top and the files that the
// configuration's file and fileexists functions name.
func NewLoader(fsys fs.FS) *Loader {
	return &Loader{
		fsys:   fsys,
		parser: hclparse.NewParser(),
		funcs:  functions(fsys),
	}
}

// Files returns the source files parsed so far by name, for
// hcl.NewDiagnosticTextWriter to show source snippets. Besides the *.hcl
// files it holds the -var values parsed as expressions, under names like
// "<value for var.sites>".
func (l *Loader) Files() map[string]*hcl.File {
	return l.parser.Files()
}

// Load evaluates the configuration with the raw -var values vars (name to
// the text after "=") and returns the desired model. The model is
// best-effort when the diagnostics hold errors: callers must check
// HasErrors before using it.
func (l *Loader) Load(vars map[string]string) (*Config, hcl.Diagnostics) {
	cfg := &Config{}
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
				d.Detail += " A configuration file may contain variable, locals and device blocks."
			}
		}
		diags = append(diags, fileDiags...)
		root.Variables = append(root.Variables, s.Variables...)
		root.Locals = append(root.Locals, s.Locals...)
		root.Devices = append(root.Devices, s.Devices...)
	}

	r := newRun(l)
	r.decodeVariables(root.Variables, vars)
	r.decodeLocals(root.Locals)
	cfg.Devices = r.decodeDevices(root.Devices)
	diags = append(diags, r.diags...)
	return cfg, dedupe(diags)
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
	Variables []*variableBlock `hcl:"variable,block"`
	Locals    []*localsBlock   `hcl:"locals,block"`
	Devices   []*deviceBlock   `hcl:"device,block"`
}

type variableBlock struct {
	Name        string         `hcl:"name,label"`
	Type        *hcl.Attribute `hcl:"type,optional"`
	Default     *hcl.Attribute `hcl:"default,optional"`
	Description string         `hcl:"description,optional"`
	DeclRange   hcl.Range      `hcl:",def_range"`
	NameRange   hcl.Range      `hcl:"name,label_range"`
}

type localsBlock struct {
	Attrs hcl.Attributes `hcl:",remain"`
}

type deviceBlock struct {
	Name      string    `hcl:"name,label"`
	Body      hcl.Body  `hcl:",remain"` // decoded per instance with deviceSchema
	DeclRange hcl.Range `hcl:",def_range"`
	NameRange hcl.Range `hcl:"name,label_range"`
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
