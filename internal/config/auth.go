package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/iotplan/iotplan/internal/hub"
)

// The arguments of auth.
const (
	authType                = "type"
	authPrimaryKey          = "primary_key"
	authSecondaryKey        = "secondary_key"
	authPrimaryThumbprint   = "primary_thumbprint"
	authSecondaryThumbprint = "secondary_thumbprint"
)

var authArgNames = []string{authType, authPrimaryKey, authSecondaryKey, authPrimaryThumbprint, authSecondaryThumbprint}

var authSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: authType}, {Name: authPrimaryKey}, {Name: authSecondaryKey},
		{Name: authPrimaryThumbprint}, {Name: authSecondaryThumbprint},
	},
}

var authTypes = []string{string(AuthSAS), string(AuthX509Thumbprint), string(AuthX509CA), string(AuthNone)}

// authDecl is the auth of a block as written: an argument (auth = "sas",
// or an object of the auth arguments) or a block.
type authDecl struct {
	attr       *hcl.Attribute
	block      *hcl.Block
	blockAttrs hcl.Attributes
}

func (d *authDecl) exprs() []hcl.Expression {
	if d.attr != nil {
		return []hcl.Expression{d.attr.Expr}
	}
	var out []hcl.Expression
	for _, name := range authArgNames {
		if a := d.blockAttrs[name]; a != nil {
			out = append(out, a.Expr)
		}
	}
	return out
}

// ranges returns the range of auth and of each auth argument written, as
// "auth.type".
func (d *authDecl) ranges() map[string]hcl.Range {
	out := map[string]hcl.Range{}
	if d.attr != nil {
		out["auth"] = d.attr.Expr.Range()
		for _, name := range authArgNames {
			if e := objectItemExpr(d.attr.Expr, name); e != nil {
				out["auth."+name] = e.Range()
			}
		}
		return out
	}
	out["auth"] = d.block.DefRange
	for name, a := range d.blockAttrs {
		out["auth."+name] = a.Expr.Range()
	}
	return out
}

// declareAuth decodes the skeleton of a block's auth: at most one argument
// or block.
func (r *run) declareAuth(attr *hcl.Attribute, blocks []*hcl.Block) *authDecl {
	if len(blocks) > 1 {
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate auth block",
			Detail:   fmt.Sprintf("An auth block was already given at %s. A resource has one auth; remove one of them.", blocks[0].DefRange),
			Subject:  blocks[1].DefRange.Ptr(),
		})
	}
	switch {
	case attr != nil && len(blocks) > 0:
		r.diags = append(r.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate auth",
			Detail:   fmt.Sprintf("auth is given both as an argument (at %s) and as a block. Keep one of them.", attr.NameRange),
			Subject:  blocks[0].DefRange.Ptr(),
		})
		return &authDecl{attr: attr}
	case attr != nil:
		return &authDecl{attr: attr}
	case len(blocks) > 0:
		content, diags := blocks[0].Body.Content(authSchema)
		r.diags = append(r.diags, diags...)
		return &authDecl{block: blocks[0], blockAttrs: content.Attributes}
	}
	return nil
}

// authArg is one evaluated auth argument.
type authArg struct {
	s         string
	sensitive bool
	expr      hcl.Expression
}

// evalAuth evaluates the auth of an instance and checks it. sens gets the
// sensitive paths. ok is false when the auth could not be evaluated or
// breaks a rule.
func (r *run) evalAuth(d *authDecl, addr Addr, ctx *hcl.EvalContext, a allow, sens *[]string) (Auth, bool) {
	if d == nil {
		return Auth{Type: AuthSAS}, true
	}
	args := map[string]*authArg{}
	ok := true
	str := func(name string, v cty.Value, expr hcl.Expression) {
		uv, marks := v.UnmarkDeep()
		if uv.IsNull() {
			return
		}
		sv, err := convert.Convert(uv, cty.String)
		if err != nil {
			r.argDiag("Incorrect attribute value type", fmt.Sprintf("inappropriate value for auth %s: a string is required, not %s", name, uv.Type().FriendlyName()), expr, nil, addr)
			ok = false
			return
		}
		_, sensitive := marks[SensitiveMark]
		args[name] = &authArg{s: sv.AsString(), sensitive: sensitive, expr: expr}
	}
	if d.attr != nil {
		v, evalOK := r.eval(d.attr.Expr, ctx, a)
		if !evalOK {
			return Auth{}, false
		}
		uv, _ := v.Unmark()
		ty := uv.Type()
		switch {
		case uv.IsNull():
			return Auth{Type: AuthSAS}, true
		case ty == cty.String:
			str(authType, v, d.attr.Expr)
		case ty.IsObjectType() || ty.IsMapType():
			for it := uv.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				name := k.AsString()
				expr := objectItemExpr(d.attr.Expr, name)
				if expr == nil {
					expr = d.attr.Expr
				}
				if !isAuthArg(name) {
					r.argDiag("Unsupported argument",
						fmt.Sprintf("the auth object has no argument named %q.%s Its arguments are %s", name, didYouMean(name, authArgNames), strings.Join(authArgNames, ", ")), expr, nil, addr)
					ok = false
					continue
				}
				str(name, ev, expr)
			}
		default:
			r.argDiag("Incorrect attribute value type",
				fmt.Sprintf(`the auth argument must be an auth type such as "sas", or an object such as { type = "x509_thumbprint", primary_thumbprint = "..." }, not %s`, ty.FriendlyName()), d.attr.Expr, nil, addr)
			return Auth{}, false
		}
	} else {
		names := make([]string, 0, len(d.blockAttrs))
		for name := range d.blockAttrs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			at := d.blockAttrs[name]
			v, evalOK := r.eval(at.Expr, ctx, a)
			if !evalOK {
				ok = false
				continue
			}
			str(name, v, at.Expr)
		}
	}
	if !ok {
		return Auth{}, false
	}
	return r.checkAuth(args, d, addr, ctx, sens)
}

// checkAuth checks the auth arguments against each other and the hub's
// rules.
func (r *run) checkAuth(args map[string]*authArg, d *authDecl, addr Addr, ctx *hcl.EvalContext, sens *[]string) (Auth, bool) {
	au := Auth{Type: AuthSAS}
	ok := true
	var whole hcl.Range
	if d.attr != nil {
		whole = d.attr.Expr.Range()
	} else {
		whole = d.block.DefRange
	}
	if t := args[authType]; t != nil {
		au.Type = AuthType(t.s)
		if !isAuthType(t.s) {
			r.argDiag("Invalid auth type",
				fmt.Sprintf("%s is not an auth type.%s Use one of %s", shown(t.s, t.sensitive), didYouMean(t.s, authTypes), quotedList(authTypes)), t.expr, nil, addr)
			return Auth{}, false
		}
	}
	allowed := map[AuthType][]string{
		AuthSAS:            {authPrimaryKey, authSecondaryKey},
		AuthX509Thumbprint: {authPrimaryThumbprint, authSecondaryThumbprint},
	}[au.Type]
	for _, name := range authArgNames[1:] {
		if args[name] != nil && !contains(allowed, name) {
			r.argDiag("Argument not valid for the auth type",
				fmt.Sprintf("the argument %s does not apply to auth type %q. Remove it, or change the type", name, au.Type), args[name].expr, nil, addr)
			ok = false
		}
	}
	if !ok {
		return Auth{}, false
	}
	switch au.Type {
	case AuthSAS:
		pk, sk := args[authPrimaryKey], args[authSecondaryKey]
		if (pk == nil) != (sk == nil) {
			missing := authSecondaryKey
			if pk == nil {
				missing = authPrimaryKey
			}
			rng := whole
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Incomplete SAS keys",
				Detail:   fmt.Sprintf("auth gives one SAS key without %s. IoT Hub takes both keys or neither; leave both out to have the hub generate them.", missing),
				Subject:  &rng,
			})
			return Auth{}, false
		}
		for _, k := range []*authArg{pk, sk} {
			if k == nil {
				continue
			}
			if err := hub.ValidateSymmetricKey(k.s); err != nil {
				r.argDiag("Invalid SAS key", err.Error()+". Give base64 of 16 to 64 random bytes, or leave both keys out to have the hub generate them", k.expr, nil, addr)
				ok = false
			}
		}
		if pk != nil {
			au.PrimaryKey, au.SecondaryKey = pk.s, sk.s
			*sens = append(*sens, "auth."+authPrimaryKey, "auth."+authSecondaryKey)
		}
	case AuthX509Thumbprint:
		pt, st := args[authPrimaryThumbprint], args[authSecondaryThumbprint]
		if pt == nil {
			rng := whole
			r.diags = append(r.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing thumbprint",
				Detail:   `Auth type "x509_thumbprint" needs primary_thumbprint: the SHA-1 (40 hex digits) or SHA-256 (64 hex digits) thumbprint of the device's certificate. secondary_thumbprint is optional.`,
				Subject:  &rng,
			})
			return Auth{}, false
		}
		for _, t := range []*authArg{pt, st} {
			if t == nil {
				continue
			}
			if !validThumbprint(t.s) {
				r.argDiag("Invalid thumbprint",
					fmt.Sprintf("%s is not a certificate thumbprint: IoT Hub takes 40 hex digits (SHA-1) or 64 hex digits (SHA-256), without separators", shown(t.s, t.sensitive)), t.expr, nil, addr)
				ok = false
			}
		}
		au.PrimaryThumbprint = strings.ToUpper(pt.s)
		if st != nil {
			au.SecondaryThumbprint = strings.ToUpper(st.s)
		}
	}
	for _, name := range []string{authPrimaryThumbprint, authSecondaryThumbprint} {
		if args[name] != nil && args[name].sensitive {
			*sens = append(*sens, "auth."+name)
		}
	}
	if !ok {
		return Auth{}, false
	}
	return au, true
}

// authValues returns the auth attributes references read, for instance
// objects: auth_type, the keys and the thumbprints. Keys the hub generates
// come from known, or are unknown.
func authValues(addr Addr, au Auth, ok bool, known map[string]cty.Value) map[string]cty.Value {
	out := map[string]cty.Value{}
	if !ok {
		for _, n := range []string{"auth_type", "primary_key", "secondary_key", "primary_thumbprint", "secondary_thumbprint"} {
			out[n] = cty.DynamicVal
		}
		return out
	}
	nullStr := cty.NullVal(cty.String)
	out["auth_type"] = cty.StringVal(string(au.Type))
	out["primary_key"], out["secondary_key"] = nullStr, nullStr
	out["primary_thumbprint"], out["secondary_thumbprint"] = nullStr, nullStr
	switch au.Type {
	case AuthSAS:
		if au.PrimaryKey != "" {
			out["primary_key"], out["secondary_key"] = cty.StringVal(au.PrimaryKey), cty.StringVal(au.SecondaryKey)
		} else {
			out["primary_key"] = computedAttr(addr, "primary_key", known)
			out["secondary_key"] = computedAttr(addr, "secondary_key", known)
		}
	case AuthX509Thumbprint:
		out["primary_thumbprint"] = cty.StringVal(au.PrimaryThumbprint)
		if au.SecondaryThumbprint != "" {
			out["secondary_thumbprint"] = cty.StringVal(au.SecondaryThumbprint)
		}
	}
	out["primary_key"] = out["primary_key"].Mark(SensitiveMark)
	out["secondary_key"] = out["secondary_key"].Mark(SensitiveMark)
	return out
}

// objectItemExpr returns the expression of the item key of an object
// constructor, or nil when expr is not one or has no such item.
func objectItemExpr(expr hcl.Expression, key string) hcl.Expression {
	oc, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	for _, item := range oc.Items {
		k, diags := item.KeyExpr.Value(nil)
		if !diags.HasErrors() && k.Type() == cty.String && k.IsKnown() && !k.IsNull() && k.AsString() == key {
			return item.ValueExpr
		}
	}
	return nil
}

func isAuthArg(name string) bool { return contains(authArgNames, name) }

func isAuthType(s string) bool { return contains(authTypes, s) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func validThumbprint(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// quotedList writes words quoted, as a sentence lists them.
func quotedList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = fmt.Sprintf("%q", w)
	}
	return joinAnd(q)
}
