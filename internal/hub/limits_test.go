package hub

import (
	"strings"
	"testing"
)

func nest(levels int) map[string]any {
	m := map[string]any{"property": 1.0}
	for range levels - 1 {
		m = map[string]any{"n": m}
	}
	return map[string]any{"one": m}
}

func TestValidateTwinSection(t *testing.T) {
	tests := map[string]struct {
		section string
		props   map[string]any
		patch   bool
		wantErr string // a path, or "" for valid
	}{
		"ten levels (tags.one.two...ten.property) are valid": {SectionTags, nest(10), false, ""},
		"eleven levels are not":                              {SectionTags, nest(11), false, "one.n.n.n.n.n.n.n.n.n.n"},
		"dot in key":                                         {SectionDesired, map[string]any{"a.b": 1.0}, false, "a.b"},
		"dollar in key":                                      {SectionDesired, map[string]any{"x": map[string]any{"$y": 1.0}}, false, "x.$y"},
		"space in key":                                       {SectionDesired, map[string]any{"a b": 1.0}, false, "a b"},
		"control character":                                  {SectionDesired, map[string]any{"a\x01": 1.0}, false, "a\x01"},
		"null outside a patch":                               {SectionDesired, map[string]any{"a": nil}, false, "a"},
		"null in a patch":                                    {SectionDesired, map[string]any{"a": nil}, true, ""},
		"integer too large":                                  {SectionDesired, map[string]any{"n": 4503599627370496.0}, false, "n"},
		"largest integer":                                    {SectionDesired, map[string]any{"n": 4503599627370495.0}, false, ""},
		"string too long":                                    {SectionDesired, map[string]any{"s": strings.Repeat("x", 4097)}, false, "s"},
		"tags over 8 KB":                                     {SectionTags, map[string]any{"a": strings.Repeat("x", 4000), "b": strings.Repeat("x", 4000), "c": strings.Repeat("x", 400)}, false, "tags take"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			errs := ValidateTwinSection(tt.section, tt.props, tt.patch)
			if tt.wantErr == "" {
				if len(errs) > 0 {
					t.Fatalf("ValidateTwinSection() = %v, want no error", errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("ValidateTwinSection() = no error, want one at %q", tt.wantErr)
			}
			if got := errs[0].Error(); !strings.HasPrefix(got, tt.wantErr) {
				t.Errorf("ValidateTwinSection() = %q, want it to start with %q", got, tt.wantErr)
			}
		})
	}
}

func TestValidateID(t *testing.T) {
	for id, ok := range map[string]bool{
		"thermo-01":                   true,
		"a:b.c+d%e_f#g*h?i!j(k)l,m=n": true,
		"semi;colon$and'quote@x":      true,
		"":                            false,
		"gw 01/east":                  false,
		"ünïcode":                     false,
		strings.Repeat("a", 128):      true,
		strings.Repeat("a", 129):      false,
	} {
		if err := ValidateID(id); (err == nil) != ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
	err := ValidateID("gw 01/east")
	if err == nil || !strings.Contains(err.Error(), "' ' and '/'") {
		t.Errorf("ValidateID() error = %v, want it to name ' ' and '/'", err)
	}
}
