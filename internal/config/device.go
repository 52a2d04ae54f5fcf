package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/iotplan/iotplan/internal/hub"
)

// deviceSchema is the body of a device block.
var deviceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "count"},
		{Name: "for_each"},
		{Name: "depends_on"},
		{Name: "device_id", Required: true},
		{Name: "status"},
		{Name: "status_reason"},
		{Name: "auth"},
		{Name: "edge"},
		{Name: "parent"},
		{Name: "key_version"},
		{Name: "tags"},
		{Name: "desired"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "auth"}, {Type: "lifecycle"}},
}

// deviceAttrNames are the attributes references read from a device
// instance, sorted.
var deviceAttrNames = []string{
	"auth_type", "connection_string", "desired", "device_id", "edge", "generation_id", "key_version",
	"parent", "primary_key", "primary_thumbprint", "secondary_key", "secondary_thumbprint", "status",
	"status_reason", "tags",
}

var statuses = []string{string(hub.StatusEnabled), string(hub.StatusDisabled)}

// deviceInstance evaluates the arguments of one instance of a device block
// and returns it with the object references to it read.
func (r *run) deviceInstance(res *resource, addr Addr, ctx *hcl.EvalContext, a allow) (*Device, cty.Value) {
	d := &Device{
		Addr:      addr,
		Status:    hub.StatusEnabled,
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
			d.DeviceID = id
			r.checkID("Invalid device ID", id, isSensitive(v), at.Expr, ctx, addr)
		}
	}
	obj["status"] = cty.StringVal(string(hub.StatusEnabled))
	if at := attrs["status"]; at != nil {
		s, v, ok := r.evalString(at, ctx, a, false)
		obj["status"] = argVal(true, v, ok, obj["status"])
		mark("status", v)
		if ok {
			switch st := hub.Status(s); st {
			case hub.StatusEnabled, hub.StatusDisabled:
				d.Status = st
			default:
				r.argDiag("Invalid device status",
					fmt.Sprintf("the status %s is not one IoT Hub knows.%s Use %q or %q", shown(s, isSensitive(v)), didYouMean(s, statuses), hub.StatusEnabled, hub.StatusDisabled), at.Expr, ctx, addr)
			}
		}
	}
	obj["status_reason"] = cty.NullVal(cty.String)
	if at := attrs["status_reason"]; at != nil {
		s, v, ok := r.evalString(at, ctx, a, false)
		obj["status_reason"] = argVal(true, v, ok, obj["status_reason"])
		mark("status_reason", v)
		if ok {
			d.StatusReason = s
			if err := hub.ValidateStatusReason(s); err != nil {
				r.argDiag("Invalid status reason", err.Error()+". Shorten it", at.Expr, ctx, addr)
			}
		}
	}
	obj["edge"] = cty.False
	if at := attrs["edge"]; at != nil {
		b, v, ok := r.evalBool(at, ctx, a)
		obj["edge"] = argVal(true, v, ok, cty.False)
		d.Edge = ok && b
	}
	obj["parent"] = cty.NullVal(cty.String)
	if at := attrs["parent"]; at != nil {
		s, v, ok := r.evalString(at, ctx, a, false)
		obj["parent"] = argVal(true, v, ok, obj["parent"])
		mark("parent", v)
		if ok {
			d.Parent = s
			r.checkID("Invalid parent device ID", s, isSensitive(v), at.Expr, ctx, addr)
		}
	}
	obj["key_version"] = cty.Zero
	if at := attrs["key_version"]; at != nil {
		n, v, ok := r.evalWhole(at, ctx, a, addr)
		obj["key_version"] = argVal(true, v, ok, cty.Zero)
		d.KeyVersion = n
	}
	au, authOK := r.evalAuth(res.auth, addr, ctx, a, &sens)
	d.Auth = au
	if authOK {
		r.checkKeyVersion(res, d.KeyVersion, au, addr, ctx)
	}
	obj["tags"], obj["desired"] = cty.EmptyObjectVal, cty.EmptyObjectVal
	if at := attrs["tags"]; at != nil {
		d.Tags, obj["tags"] = r.twinSection(at, hub.SectionTags, addr, ctx, a, &sens)
	}
	if at := attrs["desired"]; at != nil {
		d.Desired, obj["desired"] = r.twinSection(at, hub.SectionDesired, addr, ctx, a, &sens)
	}

	known := r.knownAttrs(addr, map[string]cty.Value{
		"device_id":   cty.StringVal(d.DeviceID),
		"auth_type":   cty.StringVal(string(au.Type)),
		"key_version": cty.NumberIntVal(int64(d.KeyVersion)),
	})
	maps.Copy(obj, authValues(addr, au, authOK, known))
	obj["generation_id"] = computedAttr(addr, "generation_id", known)
	obj["connection_string"] = computedAttr(addr, "connection_string", known).Mark(SensitiveMark)

	sort.Strings(sens)
	d.Sensitive = slices.Compact(sens)
	for _, dep := range res.dependsOn {
		d.DependsOn = append(d.DependsOn, dep.addr.String())
	}
	return d, cty.ObjectVal(obj)
}

// checkID checks a device or module ID against the registry's rules.
func (r *run) checkID(summary, id string, sensitive bool, expr hcl.Expression, ctx *hcl.EvalContext, addr Addr) {
	if err := hub.ValidateID(id); err != nil {
		detail := err.Error()
		if sensitive {
			detail = strings.ReplaceAll(detail, strconv.Quote(id), shown(id, true))
		}
		r.argDiag(summary, detail+". "+hub.IDRule, expr, ctx, addr)
	}
}

// checkKeyVersion checks that key_version is used where it means
// something: SAS auth with keys the hub generates.
func (r *run) checkKeyVersion(res *resource, n int, au Auth, addr Addr, ctx *hcl.EvalContext) {
	at := res.attrs["key_version"]
	if at == nil || n == 0 {
		return
	}
	switch {
	case au.Type != AuthSAS:
		r.argDiag("Invalid key_version",
			fmt.Sprintf("the key_version argument has the hub generate new SAS keys, and auth type %q has no keys. Remove key_version", au.Type), at.Expr, ctx, addr)
	case au.PrimaryKey != "":
		r.argDiag("Invalid key_version",
			"the key_version argument has the hub generate new SAS keys, and this auth gives its keys explicitly. To rotate them, change primary_key and secondary_key, and remove key_version", at.Expr, ctx, addr)
	}
}
