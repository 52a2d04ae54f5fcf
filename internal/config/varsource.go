package config

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// EnvVarPrefix starts the names of the environment variables that set
// input variables: IOTPLAN_VAR_region sets var.region.
const EnvVarPrefix = "IOTPLAN_VAR_"

// Variables files read without being named on the command line, as
// Terraform reads terraform.tfvars and *.auto.tfvars.
const (
	DefaultVarsFile = "iotplan.iotvars"
	AutoVarsSuffix  = ".auto.iotvars"
)

// varSource is one given value of a variable: raw text (-var,
// IOTPLAN_VAR_name) or an expression of a variables file.
type varSource struct {
	text   string         // raw text, when expr is nil
	expr   hcl.Expression // the value in a variables file
	pseudo string         // for raw text: the name of the file that shows it in snippets
	from   string         // where it came from, for messages: "with -var", "in a.iotvars"
	rng    hcl.Range      // the value's range, once known
}

// varFile is a parsed variables file, kept with its diagnostics so that
// every load reports them.
type varFile struct {
	attrs hcl.Attributes
	diags hcl.Diagnostics
}

// variableSources gathers the given values of variables and returns the one
// that wins for each name. Sources, from weakest to strongest:
// IOTPLAN_VAR_name, iotplan.iotvars, *.auto.iotvars in name order, then the
// -var and -var-file options in command-line order. Values for undeclared
// variables are an error with -var, a warning in files, and ignored in the
// environment, as in Terraform.
func (r *run) variableSources() map[string]*varSource {
	given := map[string]*varSource{}

	var envNames []string
	for k := range r.opts.Env {
		if name, ok := strings.CutPrefix(k, EnvVarPrefix); ok && name != "" {
			envNames = append(envNames, name)
		}
	}
	sort.Strings(envNames)
	for _, name := range envNames {
		if r.vars[name] == nil {
			continue
		}
		given[name] = &varSource{text: r.opts.Env[EnvVarPrefix+name], pseudo: fmt.Sprintf("<value for var.%s>", name), from: "in " + EnvVarPrefix + name}
	}

	var auto []string
	if entries, err := fs.ReadDir(r.l.fsys, "."); err == nil {
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), AutoVarsSuffix) {
				auto = append(auto, e.Name())
			}
		}
	}
	sort.Strings(auto)
	if fi, err := fs.Stat(r.l.fsys, DefaultVarsFile); err == nil && !fi.IsDir() {
		auto = append([]string{DefaultVarsFile}, auto...)
	}
	for _, name := range auto {
		r.fileSources(given, name, nil)
	}

	for _, o := range r.opts.Vars {
		if o.File != "" {
			r.fileSources(given, o.File, o.Src)
			continue
		}
		if r.vars[o.Name] == nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("A value was given for the variable %q with -var, but no variable block declares it. Declare it with variable %q {}, or remove the option.%s",
					o.Name, o.Name, didYouMean(o.Name, r.varOrder)),
			})
			continue
		}
		given[o.Name] = &varSource{text: o.Value, pseudo: fmt.Sprintf("<value for var.%s>", o.Name), from: "with -var"}
	}
	return given
}

// fileSources adds the values of one variables file to given. src holds
// the file's contents when the caller read it; otherwise it is read from
// the working folder.
func (r *run) fileSources(given map[string]*varSource, name string, src []byte) {
	vf := r.l.readVarFile(name, src)
	r.diags = append(r.diags, vf.diags...)
	attrs := make([]*hcl.Attribute, 0, len(vf.attrs))
	for _, a := range vf.attrs {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Range.Start.Byte < attrs[j].Range.Start.Byte })
	for _, a := range attrs {
		if r.vars[a.Name] == nil {
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("The file %s gives a value for the variable %q, but no variable block declares it, so the value is not used.%s",
					name, a.Name, didYouMean(a.Name, r.varOrder)),
				Subject: a.NameRange.Ptr(),
			})
			continue
		}
		given[a.Name] = &varSource{expr: a.Expr, from: "in " + name, rng: a.Expr.Range()}
	}
}

// readVarFile parses a variables file once per Loader, like the *.hcl
// files: a file of name = value lines, values being literal HCL
// expressions.
func (l *Loader) readVarFile(name string, src []byte) *varFile {
	if vf := l.varFiles[name]; vf != nil {
		return vf // the parser keeps the first contents of a name
	}
	vf := &varFile{}
	if l.varFiles == nil {
		l.varFiles = map[string]*varFile{}
	}
	l.varFiles[name] = vf
	if src == nil {
		p, err := relativePath(name)
		if err == nil {
			src, err = fs.ReadFile(l.fsys, p)
		}
		if err != nil {
			vf.diags = append(vf.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read variables file",
				Detail:   fmt.Sprintf("The variables file %s could not be read: %s.", name, fileError(name, err)),
			})
			return vf
		}
	}
	f, diags := l.parser.ParseHCL(src, name)
	vf.diags = append(vf.diags, diags...)
	if f == nil {
		return vf
	}
	attrs, diags := f.Body.JustAttributes()
	for _, d := range diags {
		if d.Summary == "Unexpected block" || d.Summary == "Unexpected \"block\" block" {
			d.Detail = "A variables file holds only name = value lines, one per variable."
		}
	}
	vf.diags = append(vf.diags, diags...)
	vf.attrs = attrs
	return vf
}
