package config

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// makeHashFunc returns a function that hashes a string's UTF-8 bytes and
// encodes the sum.
func makeHashFunc(h func() hash.Hash, encode func([]byte) string) function.Function {
	return function.New(&function.Spec{
		Description: "Hashes a string.",
		Params:      []function.Parameter{{Name: "str", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s := h()
			s.Write([]byte(args[0].AsString()))
			return cty.StringVal(encode(s.Sum(nil))), nil
		},
	})
}

// uuidNamespaces are the namespaces of RFC 4122 that uuidv5 takes by name.
var uuidNamespaces = map[string]string{
	"dns":  "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
	"url":  "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
	"oid":  "6ba7b812-9dad-11d1-80b4-00c04fd430c8",
	"x500": "6ba7b814-9dad-11d1-80b4-00c04fd430c8",
}

// uuidV5Func is Terraform's uuidv5: the name-based (SHA-1) UUID of a name
// in a namespace, the same every time, so it can make stable IDs.
var uuidV5Func = function.New(&function.Spec{
	Description: "Returns the version 5 (SHA-1, name-based) UUID of a name in a namespace.",
	Params: []function.Parameter{
		{Name: "namespace", Type: cty.String},
		{Name: "name", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		ns := args[0].AsString()
		if known, ok := uuidNamespaces[ns]; ok {
			ns = known
		}
		nsBytes, ok := parseUUID(ns)
		if !ok {
			return cty.UnknownVal(cty.String), function.NewArgErrorf(0, `the namespace must be "dns", "url", "oid", "x500" or a UUID, not %q`, args[0].AsString())
		}
		h := sha1.New()
		h.Write(nsBytes)
		h.Write([]byte(args[1].AsString()))
		u := h.Sum(nil)[:16]
		u[6] = u[6]&0x0f | 0x50
		u[8] = u[8]&0x3f | 0x80
		return cty.StringVal(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])), nil
	},
})

func parseUUID(s string) ([]byte, bool) {
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 || len(s) != 36 {
		return nil, false
	}
	b, err := hex.DecodeString(h)
	return b, err == nil
}

// timeCmpFunc is Terraform's timecmp: -1, 0 or 1 as the first RFC 3339
// timestamp is before, at or after the second.
var timeCmpFunc = function.New(&function.Spec{
	Description: "Compares two RFC 3339 timestamps: -1, 0 or 1.",
	Params: []function.Parameter{
		{Name: "timestamp_a", Type: cty.String},
		{Name: "timestamp_b", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var ts [2]time.Time
		for i, a := range args {
			t, err := time.Parse(time.RFC3339, a.AsString())
			if err != nil {
				return cty.UnknownVal(cty.Number), function.NewArgErrorf(i, "%q is not an RFC 3339 timestamp, such as 2026-12-01T02:00:00Z", a.AsString())
			}
			ts[i] = t
		}
		return cty.NumberIntVal(int64(ts[0].Compare(ts[1]))), nil
	},
})
