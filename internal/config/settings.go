package config

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/hub"
)

type settingsBlock struct {
	Backends  []*backendBlock `hcl:"backend,block"`
	DeclRange hcl.Range       `hcl:",def_range"`
}

type backendBlock struct {
	Type      string    `hcl:"type,label"`
	Body      hcl.Body  `hcl:",remain"`
	DeclRange hcl.Range `hcl:",def_range"`
	TypeRange hcl.Range `hcl:"type,label_range"`
}

type hubBlock struct {
	Body      hcl.Body  `hcl:",remain"`
	DeclRange hcl.Range `hcl:",def_range"`
}

// Hub tiers and backend types the language knows.
var (
	hubTiers     = []string{"F1", "B1", "B2", "B3", "S1", "S2", "S3"}
	backendTypes = []string{"local", "pg"}
)

var hubSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "connection_string", Required: true},
		{Name: "tier"},
		{Name: "units"},
		{Name: "ca_file"},
		{Name: "insecure"},
	},
}

var backendSchemas = map[string]*hcl.BodySchema{
	"local": {Attributes: []hcl.AttributeSchema{{Name: "path"}}},
	"pg":    {Attributes: []hcl.AttributeSchema{{Name: "conn_str", Required: true}}},
}

// decodeHub evaluates the hub block; nil when there is none. Its arguments
// may use variables, locals and functions such as env.
func (r *run) decodeHub(blocks []*hubBlock) *HubSettings {
	if len(blocks) == 0 {
		return nil
	}
	if len(blocks) > 1 {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate hub block",
			Detail:   fmt.Sprintf("A hub block was already declared at %s. A configuration manages one hub; remove one of them.", blocks[0].DeclRange),
			Subject:  blocks[1].DeclRange.Ptr(),
		})
	}
	b := blocks[0]
	h := &HubSettings{Tier: "S1", Units: 1, DeclRange: b.DeclRange, Ranges: map[string]hcl.Range{}}
	content, diags := b.Body.Content(hubSchema)
	r.diags = append(r.diags, diags...)
	ctx := r.scope()
	for name, a := range content.Attributes {
		h.Ranges[name] = a.Expr.Range()
	}
	if a := content.Attributes["connection_string"]; a != nil {
		if s, _, ok := r.evalString(a, ctx, 0, true); ok {
			h.ConnectionString = s
			cs, err := hub.ParseConnectionString(s)
			switch {
			case err != nil:
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid connection string",
					Detail:   sentence(err.Error()) + " Give a service connection string, such as HostName=NAME.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=KEY.",
					Subject:  a.Expr.Range().Ptr(),
				})
			case cs.HostName == "" || cs.SharedAccessKeyName == "" || cs.DeviceID != "":
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid connection string",
					Detail:   "The connection string is not a service one: it needs HostName and SharedAccessKeyName (with SharedAccessKey or SharedAccessSignature), and no DeviceId. Copy it from the hub's shared access policies, such as iothubowner.",
					Subject:  a.Expr.Range().Ptr(),
				})
			}
		}
	}
	if a := content.Attributes["tier"]; a != nil {
		if s, _, ok := r.evalString(a, ctx, 0, false); ok {
			if slices.Contains(hubTiers, s) {
				h.Tier = s
			} else {
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid hub tier",
					Detail:   fmt.Sprintf("%q is not an IoT Hub tier.%s Use one of %s.", s, didYouMean(s, hubTiers), joinAnd(hubTiers)),
					Subject:  a.Expr.Range().Ptr(),
				})
			}
		}
	}
	if a := content.Attributes["units"]; a != nil {
		if n, _, ok := r.evalWhole(a, ctx, 0, Addr{}); ok {
			switch {
			case n < 1:
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid hub units",
					Detail:   "A hub has at least 1 unit.",
					Subject:  a.Expr.Range().Ptr(),
				})
			case h.Tier == "F1" && n != 1:
				r.diags = append(r.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid hub units",
					Detail:   "A free (F1) hub has exactly 1 unit.",
					Subject:  a.Expr.Range().Ptr(),
				})
			default:
				h.Units = n
			}
		}
	}
	if a := content.Attributes["ca_file"]; a != nil {
		if s, _, ok := r.evalString(a, ctx, 0, false); ok {
			h.CAFile = s
		}
	}
	if a := content.Attributes["insecure"]; a != nil {
		if b, _, ok := r.evalBool(a, ctx, 0); ok {
			h.Insecure = b
		}
	}
	return h
}

// decodeSettings evaluates the iotplan block and returns its backend; nil
// when there is none.
func (r *run) decodeSettings(blocks []*settingsBlock) *Backend {
	var backends []*backendBlock
	for _, s := range blocks {
		backends = append(backends, s.Backends...)
	}
	if len(blocks) > 1 {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate iotplan block",
			Detail:   fmt.Sprintf("An iotplan block was already declared at %s. Merge them into one.", blocks[0].DeclRange),
			Subject:  blocks[1].DeclRange.Ptr(),
		})
	}
	if len(backends) == 0 {
		return nil
	}
	if len(backends) > 1 {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate backend block",
			Detail:   fmt.Sprintf("A backend was already declared at %s. State lives in one backend; remove one of them.", backends[0].DeclRange),
			Subject:  backends[1].DeclRange.Ptr(),
		})
	}
	b := backends[0]
	schema := backendSchemas[b.Type]
	if schema == nil {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown backend type",
			Detail:   fmt.Sprintf("%q is not a backend iotplan knows.%s Use \"local\" (a state file) or \"pg\" (PostgreSQL).", b.Type, didYouMean(b.Type, backendTypes)),
			Subject:  b.TypeRange.Ptr(),
		})
		return nil
	}
	be := &Backend{Type: b.Type, DeclRange: b.DeclRange, Ranges: map[string]hcl.Range{}}
	content, diags := b.Body.Content(schema)
	r.diags = append(r.diags, diags...)
	ctx := r.scope()
	for name, a := range content.Attributes {
		be.Ranges[name] = a.Expr.Range()
	}
	switch b.Type {
	case "local":
		be.Path = "iotplan.state"
		if a := content.Attributes["path"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, false); ok {
				if s == "" {
					r.diags = append(r.diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid state path",
						Detail:   "The path of the state file is empty. Give a file name, such as iotplan.state.",
						Subject:  a.Expr.Range().Ptr(),
					})
				} else {
					be.Path = s
				}
			}
		}
	case "pg":
		if a := content.Attributes["conn_str"]; a != nil {
			if s, _, ok := r.evalString(a, ctx, 0, true); ok {
				be.ConnStr = s
			}
		}
	}
	return be
}
