package query

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// kind is the type of a value in the query language's JSON model, plus
// undefined: what a path that names nothing evaluates to.
type kind uint8

const (
	kUndefined kind = iota
	kNull
	kBool
	kNumber
	kString
	kObject
	kArray
)

// value is the result of evaluating an expression. It is a small struct
// rather than an interface so that evaluation allocates nothing.
type value struct {
	k   kind
	b   bool
	n   float64
	s   string
	ref any // the map[string]any or []any of an object or array
}

var (
	undefined = value{}
	null      = value{k: kNull}
	vTrue     = value{k: kBool, b: true}
	vFalse    = value{k: kBool}
)

func boolValue(b bool) value {
	if b {
		return vTrue
	}
	return vFalse
}

func number(n float64) value { return value{k: kNumber, n: n} }

// fromAny converts a document value, as encoding/json decodes it, to a
// value. Go integer types and json.Number are accepted as numbers; any other
// type is outside the JSON model and is undefined.
func fromAny(v any) value {
	switch v := v.(type) {
	case nil:
		return null
	case string:
		return value{k: kString, s: v}
	case float64:
		return number(v)
	case bool:
		return boolValue(v)
	case map[string]any:
		return value{k: kObject, ref: v}
	case []any:
		return value{k: kArray, ref: v}
	case int:
		return number(float64(v))
	case int64:
		return number(float64(v))
	case int32:
		return number(float64(v))
	case float32:
		return number(float64(v))
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return number(f)
		}
	}
	return undefined
}

// toAny converts a value back to the JSON model; undefined becomes nil and
// must be left out by the caller.
func (v value) toAny() any {
	switch v.k {
	case kBool:
		return v.b
	case kNumber:
		return v.n
	case kString:
		return v.s
	case kObject, kArray:
		return v.ref
	}
	return nil
}

// truth is three-valued logic: a Boolean is itself, anything else is
// undefined (ok is false).
func (v value) truth() (b, ok bool) {
	return v.b, v.k == kBool
}

// write writes a constant as the query language spells it.
func (v value) write(b *strings.Builder) {
	switch v.k {
	case kUndefined:
		b.WriteString("undefined")
	case kNull:
		b.WriteString("null")
	case kBool:
		b.WriteString(strconv.FormatBool(v.b))
	case kNumber:
		b.WriteString(formatNumber(v.n))
	case kString:
		writeString(b, v.s)
	default:
		panic("query: objects and arrays are never constants")
	}
}

// formatNumber writes n as encoding/json does: plain decimals between 1e-6
// and 1e21, exponent notation outside.
func formatNumber(n float64) string {
	if a := math.Abs(n); a != 0 && (a < 1e-6 || a >= 1e21) {
		s := strconv.FormatFloat(n, 'e', -1, 64)
		// 1e-07 → 1e-7
		if i := len(s) - 4; i > 0 && s[i] == 'e' && s[i+1] == '-' && s[i+2] == '0' {
			s = s[:i+2] + s[i+3:]
		}
		return s
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}

// writeString writes s in single quotes, escaping what the lexer would not
// read back as itself.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
}
