package plan

import (
	"reflect"
	"sort"
	"strings"
)

// Twin values are JSON values as encoding/json decodes them: string, float64,
// bool, nil, []any and map[string]any. A twin key never contains '.', so a
// path joined with dots is unambiguous.

// leaves flattens a twin section into its leaf paths: a path to every value
// that is not a non-empty object. An empty object is a leaf of its own.
func leaves(m map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(p, sub)
				continue
			}
			out[p] = v
		}
	}
	walk("", m)
	return out
}

// lookup returns the value at a dotted path inside m.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = obj[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// valuesEqual compares a wanted leaf value with an actual one. An empty
// object wanted matches any object, since iotplan owns the key, not what
// others put inside it.
func valuesEqual(want, got any) bool {
	if w, ok := want.(map[string]any); ok && len(w) == 0 {
		_, isObj := got.(map[string]any)
		return isObj
	}
	return reflect.DeepEqual(normalize(want), normalize(got))
}

// normalize turns numbers of any Go type into float64 so that values decoded
// from different sources compare equal.
func normalize(v any) any {
	switch v := v.(type) {
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// covers reports whether one of the paths is p itself, a prefix of p or
// under p: writing it rewrites p, so p need not be removed on its own.
func covers(paths map[string]any, p string) bool {
	if _, ok := paths[p]; ok {
		return true
	}
	for q := range paths {
		if strings.HasPrefix(p, q+".") || strings.HasPrefix(q, p+".") {
			return true
		}
	}
	return false
}

// setPath stores v at a dotted path inside m, creating objects on the way.
func setPath(m map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	m[keys[len(keys)-1]] = v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
