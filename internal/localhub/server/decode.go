package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/iotplan/iotplan/internal/hub"
)

// maxNesting bounds how deep a request body nests objects and arrays. Twin
// content may nest ten levels inside its section; the rest is the body's
// own structure.
const maxNesting = 32

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, hub.Errorf(hub.CodeGenericRequestEntityTooLarge, "the request body is larger than %d bytes, the most this endpoint accepts", limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	return b, nil
}

// decodeBody reads the request body into v, strictly: the body must be
// UTF-8 JSON holding one value of v's shape, with no member v does not
// know, no member twice, and nothing after it. what names the body in
// error messages ("a device", "a twin").
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, what string, v any) error {
	b, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeJSON(b, what, v)
}

func decodeJSON(b []byte, what string, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return hub.Errorf(hub.CodeArgumentNull, "the request has no body; it needs %s as JSON", what)
	}
	if !utf8.Valid(b) {
		return hub.Errorf(hub.CodeIotHubFormatError, "the request body is not valid UTF-8")
	}
	if err := checkStructure(b); err != nil {
		return hub.Errorf(hub.CodeIotHubFormatError, "the request body is not valid JSON for %s: %v", what, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(what, err)
	}
	return nil
}

// checkStructure walks the JSON tokens once: it finds syntax errors,
// trailing data, duplicate members and nesting beyond maxNesting, which
// encoding/json would accept or report less clearly.
func checkStructure(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next token of an object is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return errors.New("it ends before its last value is closed")
			}
			return nil
		}
		if err != nil {
			return syntaxError(err, dec.InputOffset())
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if name, isName := tok.(string); isName && top != nil && top.object && top.key {
			if top.keys[name] {
				return fmt.Errorf("member %q appears twice in one object", safeText(name, 64))
			}
			top.keys[name] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxNesting {
				return fmt.Errorf("it nests objects and arrays more than %d levels deep", maxNesting)
			}
			f := &frame{object: tok == json.Delim('{')}
			if f.object {
				f.keys = map[string]bool{}
				f.key = true
			}
			stack = append(stack, f)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].key = true
			}
		default:
			if top != nil && top.object {
				top.key = true
			}
		}
		if len(stack) == 0 {
			// The top-level value is complete: only white space may follow.
			if _, err := dec.Token(); err != io.EOF {
				if err != nil {
					return syntaxError(err, dec.InputOffset())
				}
				return errors.New("something follows the JSON value")
			}
			return nil
		}
	}
}

func syntaxError(err error, offset int64) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("it ends in the middle of a value")
	}
	return fmt.Errorf("%s (near byte %d)", strings.TrimPrefix(err.Error(), "json: "), offset)
}

// decodeError turns encoding/json's error into a 400 that names the member
// at fault in JSON terms, not Go's.
func decodeError(what string, err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return hub.Errorf(hub.CodeArgumentInvalid, "the request body must be %s, not a JSON %s", what, te.Value)
		}
		return hub.Errorf(hub.CodeArgumentInvalid, "in %s, %s must be %s, not a JSON %s", what, field, jsonKind(te.Type), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return hub.Errorf(hub.CodeArgumentInvalid, "%s has no member %s", what, safeText(name, 80))
	}
	return hub.Errorf(hub.CodeIotHubFormatError, "the request body is not valid JSON for %s: %s", what, strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON kind of values a Go type holds.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value"
}
