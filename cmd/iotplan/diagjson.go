package main

import (
	"encoding/json"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// The JSON of `validate -json`, in Terraform's shape so that the same
// tooling reads both.
type jsonValidation struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

type jsonDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
	Snippet  *jsonCode  `json:"snippet,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type jsonCode struct {
	Context   string `json:"context,omitempty"`
	Code      string `json:"code"`
	StartLine int    `json:"start_line"`
}

func writeDiagnosticsJSON(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	out := jsonValidation{FormatVersion: "1.0", Diagnostics: []jsonDiagnostic{}}
	for _, d := range diags {
		jd := jsonDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
			out.WarningCount++
		} else {
			out.ErrorCount++
		}
		if d.Subject != nil {
			r := d.Subject
			jd.Range = &jsonRange{Filename: r.Filename,
				Start: jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:   jsonPos{r.End.Line, r.End.Column, r.End.Byte}}
			if f := files[r.Filename]; f != nil {
				jd.Snippet = snippet(f.Bytes, *r, d.Context)
			}
		}
		out.Diagnostics = append(out.Diagnostics, jd)
	}
	out.Valid = out.ErrorCount == 0
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// snippet returns the source lines of rng.
func snippet(src []byte, rng hcl.Range, _ *hcl.Range) *jsonCode {
	lines, line, start := []byte{}, 1, 0
	for i := 0; i <= len(src); i++ {
		if i == len(src) || src[i] == '\n' {
			if line >= rng.Start.Line && line <= rng.End.Line {
				if len(lines) > 0 {
					lines = append(lines, '\n')
				}
				lines = append(lines, src[start:i]...)
			}
			line++
			start = i + 1
		}
	}
	return &jsonCode{Code: string(lines), StartLine: rng.Start.Line}
}
