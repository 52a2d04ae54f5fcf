package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub"
)

// moduleSchema is the body of a device_module block.
var moduleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "count"},
		{Name: "for_each"},
		{Name: "depends_on"},
		{Name: "device_id", Required: true},
		{Name: "module_id", Required: true},
		{Name: "auth"},
		{Name: "managed_by"},
		{Name: "key_version"},
		{Name: "tags"},
		{Name: "desired"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "auth"}, {Type: "lifecycle"}},
}

// moduleAttrNames are the attributes references read from a module
// instance, sorted.
var moduleAttrNames = []string{
	"auth_type", "connection_string", "desired", "device_id", "generation_id", "key_version", "managed_by",
	"module_id", "primary_key", "primary_thumbprint", "secondary_key", "secondary_thumbprint", "tags",
}

// moduleInstance evaluates the arguments of one instance of a device_module
// block and returns it with the object references to it read.
func (r *run) moduleInstance(res *resource, addr Addr, ctx *hcl.EvalContext, a allow) (*Module, cty.Value) {
	m := &Module{
		Addr:      addr,
		Lifecycle: res.lifecycle,
		DeclRange: res.block.DeclRange,
		Ranges:    maps.Clone(res.ranges),
	}
	attrs := res.attrs
	var sens []string
	obj := map[string]cty.Value{}
	mark := func(name string, v cty.Value) {
		if isSensitive(v) {
			sens = append(sens, name)
		}
	}

	if at := attrs["device_id"]; at != nil {
		id, v, ok := r.evalString(at, ctx, a, true)
		obj["device_id"] = argVal(true, v, ok, cty.DynamicVal)
		mark("device_id", v)
		if ok {
			m.DeviceID = id
			r.checkID("Invalid device ID", id, isSensitive(v), at.Expr, ctx, addr)
		}
	}
	if at := attrs["module_id"]; at != nil {
		id, v, ok := r.evalString(at, ctx, a, true)
		obj["module_id"] = argVal(true, v, ok, cty.DynamicVal)
		mark("module_id", v)
		if ok {
			m.ModuleID = id
			if strings.HasPrefix(id, "$") && hub.ValidateID(id) == nil {
				r.argDiag("Invalid module ID",
					fmt.Sprintf("%s starts with '$', which marks the IoT Edge system modules ($edgeAgent, $edgeHub): the hub creates and manages them. Choose an ID without a leading '$'", shown(id, isSensitive(v))), at.Expr, ctx, addr)
			} else {
				r.checkID("Invalid module ID", id, isSensitive(v), at.Expr, ctx, addr)
			}
		}
	}
	obj["managed_by"] = cty.NullVal(cty.String)
	if at := attrs["managed_by"]; at != nil {
		s, v, ok := r.evalString(at, ctx, a, false)
		obj["managed_by"] = argVal(true, v, ok, obj["managed_by"])
		mark("managed_by", v)
		if ok {
			m.ManagedBy = s
		}
	}
	obj["key_version"] = cty.Zero
	if at := attrs["key_version"]; at != nil {
		n, v, ok := r.evalWhole(at, ctx, a, addr)
		obj["key_version"] = argVal(true, v, ok, cty.Zero)
		m.KeyVersion = n
	}
	au, authOK := r.evalAuth(res.auth, addr, ctx, a, &sens)
	m.Auth = au
	if authOK {
		r.checkKeyVersion(res, m.KeyVersion, au, addr, ctx)
	}
	obj["tags"], obj["desired"] = cty.EmptyObjectVal, cty.EmptyObjectVal
	if at := attrs["tags"]; at != nil {
		m.Tags, obj["tags"] = r.twinSection(at, hub.SectionTags, addr, ctx, a, &sens)
	}
	if at := attrs["desired"]; at != nil {
		m.Desired, obj["desired"] = r.twinSection(at, hub.SectionDesired, addr, ctx, a, &sens)
	}

	known := r.knownAttrs(addr, map[string]cty.Value{
		"device_id":   cty.StringVal(m.DeviceID),
		"module_id":   cty.StringVal(m.ModuleID),
		"auth_type":   cty.StringVal(string(au.Type)),
		"key_version": cty.NumberIntVal(int64(m.KeyVersion)),
	})
	maps.Copy(obj, authValues(addr, au, authOK, known))
	obj["generation_id"] = computedAttr(addr, "generation_id", known)
	obj["connection_string"] = computedAttr(addr, "connection_string", known).Mark(SensitiveMark)

	sort.Strings(sens)
	m.Sensitive = slices.Compact(sens)
	for _, dep := range res.dependsOn {
		m.DependsOn = append(m.DependsOn, dep.addr.String())
	}
	return m, cty.ObjectVal(obj)
}
