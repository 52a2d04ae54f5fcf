package query

import "strings"

// path is a property path such as tags.location.region or
// configurations.[[cfg]].status.
type path struct {
	written []string // the segments as written, [[ ]] removed
	segs    []string // the segments looked up: written without the collection qualifier
	off     int
}

// resolve looks the path up in doc. It returns the value, the document's
// spelling of the last segment, and whether the path names a value (a
// stored null counts). Each segment matches a key case-insensitively, an
// exact match winning; among several keys that differ only by case and none
// of which matches exactly, the smallest in byte order wins, so the choice
// does not depend on map order. A path through anything but an object
// names nothing.
func (p *path) resolve(doc map[string]any) (v any, key string, ok bool) {
	m := doc
	for i, seg := range p.segs {
		v, key, ok = lookup(m, seg)
		if !ok {
			return nil, "", false
		}
		if i == len(p.segs)-1 {
			break
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, "", false
		}
	}
	return v, key, true
}

func lookup(m map[string]any, name string) (any, string, bool) {
	if v, ok := m[name]; ok {
		return v, name, true
	}
	var best string
	found := false
	for k := range m {
		if strings.EqualFold(k, name) && (!found || k < best) {
			best, found = k, true
		}
	}
	if !found {
		return nil, "", false
	}
	return m[best], best, true
}

// equal reports whether p and o look up the same segments.
func (p *path) equal(o *path) bool {
	if len(p.segs) != len(o.segs) {
		return false
	}
	for i := range p.segs {
		if !strings.EqualFold(p.segs[i], o.segs[i]) {
			return false
		}
	}
	return true
}

// last is the path's last segment as written.
func (p *path) last() string { return p.written[len(p.written)-1] }

func (p *path) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p *path) write(b *strings.Builder) {
	for i, s := range p.written {
		if i > 0 {
			b.WriteByte('.')
		}
		writeName(b, s)
	}
}

// writeName writes a property name or alias bare when it lexes back as
// itself, else in [[ ]].
func writeName(b *strings.Builder, s string) {
	if isIdent(s) {
		b.WriteString(s)
		return
	}
	b.WriteString("[[")
	b.WriteString(s)
	b.WriteString("]]")
}
