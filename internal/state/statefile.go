package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/iotplan/iotplan/internal/hub"
)

// formatVersion is the state file format that Write writes. Read reads it and
// every older one.
const formatVersion = 1

var (
	// ErrNoState is what Read returns for empty input: there is no state
	// yet, which callers usually treat as an empty one.
	ErrNoState = errors.New("no state")

	// ErrUnusableState is what every other error of Read Is: the input was
	// meant to be a state file, but it cannot be used.
	ErrUnusableState = errors.New("unusable state file")

	// ErrNewerFormat is what Read's error Is when the file was written by a
	// newer iotplan, in a format version this one does not know.
	ErrNewerFormat = errors.New("state file written by a newer iotplan")
)

// ReadError is a state file Read cannot use: the problem and, when it lies at
// one place in the JSON text, where. It Is ErrUnusableState.
type ReadError struct {
	Line, Column int // 1-based; 0 when the problem has no single place
	Err          error
}

func (e *ReadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %v", e.Line, e.Column, e.Err)
	}
	return e.Err.Error()
}

func (e *ReadError) Unwrap() error { return e.Err }

// Is reports whether target is ErrUnusableState.
func (e *ReadError) Is(target error) bool { return target == ErrUnusableState }

// stateV1 is format version 1 of the state file.
type stateV1 struct {
	FormatVersion uint64              `json:"format_version"`
	Serial        uint64              `json:"serial"`
	Lineage       string              `json:"lineage"`
	Resources     []resourceV1        `json:"resources"` // sorted by Address
	Outputs       map[string]outputV1 `json:"outputs,omitempty"`
}

type outputV1 struct {
	Value     any  `json:"value"`
	Sensitive bool `json:"sensitive,omitempty"`
}

type resourceV1 struct {
	Address             string         `json:"address"`
	Type                string         `json:"type"`
	DeviceID            string         `json:"device_id"`
	ModuleID            string         `json:"module_id,omitempty"`
	GenerationID        string         `json:"generation_id"`
	ETag                string         `json:"etag"`
	TwinETag            string         `json:"twin_etag"`
	Status              string         `json:"status"`
	StatusReason        string         `json:"status_reason"`
	Auth                string         `json:"auth"`
	PrimaryThumbprint   string         `json:"primary_thumbprint,omitempty"`
	SecondaryThumbprint string         `json:"secondary_thumbprint,omitempty"`
	ExplicitKeys        bool           `json:"explicit_keys,omitempty"`
	KeyVersion          int            `json:"key_version,omitempty"`
	Edge                bool           `json:"edge,omitempty"`
	Parent              string         `json:"parent,omitempty"`
	ManagedBy           string         `json:"managed_by,omitempty"`
	Dependencies        []string       `json:"dependencies,omitempty"`
	SensitivePaths      []string       `json:"sensitive_paths,omitempty"`
	ObjectID            string         `json:"object_id,omitempty"`
	Spec                map[string]any `json:"spec,omitempty"`
	JobStatus           string         `json:"job_status,omitempty"`
	Tags                map[string]any `json:"tags,omitempty"`
	Desired             map[string]any `json:"desired,omitempty"`
	Sensitive           *sensitiveV1   `json:"sensitive,omitempty"`
}

// sensitiveV1 gathers the secrets of a resource, so that whoever reads or
// redacts a state file finds them in one place.
type sensitiveV1 struct {
	PrimaryKey   string `json:"primary_key,omitempty"`
	SecondaryKey string `json:"secondary_key,omitempty"`
}

// Read decodes a state file of any format version this iotplan knows. Empty
// input (or only white space) gives ErrNoState; every other failure is a
// *ReadError.
//
// Each format version is decoded into its own structs, which are upgraded one
// version at a time to the newest and only then turned into a State.
func Read(r io.Reader) (*State, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrNoState
	}
	version, err := sniffVersion(data)
	if err != nil {
		return nil, err
	}
	switch {
	case version == 1:
		f, err := readV1(data)
		if err != nil {
			return nil, err
		}
		return f.state()
	case version > formatVersion:
		return nil, &ReadError{Err: fmt.Errorf("%w: it has format version %d, and this iotplan reads versions up to %d; upgrade iotplan to use it",
			ErrNewerFormat, version, formatVersion)}
	default:
		return nil, &ReadError{Err: fmt.Errorf("unknown format_version %d", version)}
	}
}

// sniffVersion checks that data is one JSON object and returns its
// format_version.
func sniffVersion(data []byte) (int64, error) {
	var head struct {
		FormatVersion json.RawMessage `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return 0, jsonError(data, err)
	}
	if head.FormatVersion == nil || string(head.FormatVersion) == "null" {
		return 0, &ReadError{Err: errors.New("no format_version: this is not an iotplan state file")}
	}
	var v int64
	if err := json.Unmarshal(head.FormatVersion, &v); err != nil {
		return 0, &ReadError{Err: fmt.Errorf("format_version must be a whole number, not %s", head.FormatVersion)}
	}
	return v, nil
}

func readV1(data []byte) (*stateV1, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	// A field this version does not know was written by something else;
	// dropping it silently on the next save would lose data.
	dec.DisallowUnknownFields()
	var f stateV1
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(data, err)
	}
	return &f, nil
}

// state checks f and turns it into a State.
func (f *stateV1) state() (*State, error) {
	if f.Lineage == "" {
		return nil, &ReadError{Err: errors.New("the state has no lineage")}
	}
	s := &State{Lineage: f.Lineage, Serial: f.Serial, Resources: make(map[string]*Resource, len(f.Resources))}
	for i, rf := range f.Resources {
		if rf.Address == "" {
			return nil, &ReadError{Err: fmt.Errorf("resource %d has no address", i+1)}
		}
		if _, dup := s.Resources[rf.Address]; dup {
			return nil, &ReadError{Err: fmt.Errorf("resource address %q appears more than once", rf.Address)}
		}
		r := &Resource{
			Addr:                rf.Address,
			Type:                rf.Type,
			DeviceID:            rf.DeviceID,
			ModuleID:            rf.ModuleID,
			PrimaryThumbprint:   rf.PrimaryThumbprint,
			SecondaryThumbprint: rf.SecondaryThumbprint,
			ExplicitKeys:        rf.ExplicitKeys,
			KeyVersion:          rf.KeyVersion,
			Edge:                rf.Edge,
			Parent:              rf.Parent,
			ManagedBy:           rf.ManagedBy,
			Dependencies:        rf.Dependencies,
			Sensitive:           rf.SensitivePaths,
			ObjectID:            rf.ObjectID,
			Spec:                rf.Spec,
			JobStatus:           rf.JobStatus,
			GenerationID:        rf.GenerationID,
			ETag:                rf.ETag,
			TwinETag:            rf.TwinETag,
			Status:              hub.Status(rf.Status),
			StatusReason:        rf.StatusReason,
			Auth:                hub.AuthType(rf.Auth),
		}
		// The file leaves out empty objects, so both spellings read the same.
		if len(rf.Tags) > 0 {
			r.Tags = rf.Tags
		}
		if len(rf.Desired) > 0 {
			r.Desired = rf.Desired
		}
		if rf.Sensitive != nil {
			r.PrimaryKey = rf.Sensitive.PrimaryKey
			r.SecondaryKey = rf.Sensitive.SecondaryKey
		}
		s.Resources[rf.Address] = r
	}
	for name, o := range f.Outputs {
		if s.Outputs == nil {
			s.Outputs = map[string]*Output{}
		}
		s.Outputs[name] = &Output{Value: o.Value, Sensitive: o.Sensitive}
	}
	return s, nil
}

// Write encodes s in the newest format version: resources sorted by address,
// indented by two spaces, with a final newline, so that equal states give
// equal bytes. Nothing is written to w unless the whole state encodes.
func Write(w io.Writer, s *State) error {
	b, err := encode(s)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func encode(s *State) ([]byte, error) {
	f, err := newStateV1(s)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeResources encodes the content of s (resources and outputs, not
// lineage or serial), which is what tells whether a state changed.
func encodeResources(s *State) ([]byte, error) {
	f, err := newStateV1(s)
	if err != nil {
		return nil, err
	}
	// Outputs count as content: a save that changes only them is a change.
	b, err := json.Marshal(struct {
		R []resourceV1        `json:"r"`
		O map[string]outputV1 `json:"o,omitempty"`
	}{f.Resources, f.Outputs})
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return b, nil
}

// newStateV1 checks s as Read would and converts it to the file structs.
func newStateV1(s *State) (*stateV1, error) {
	if s == nil {
		return nil, errors.New("encode state: no state")
	}
	if s.Lineage == "" {
		return nil, errors.New("encode state: the state has no lineage")
	}
	f := &stateV1{
		FormatVersion: formatVersion,
		Serial:        s.Serial,
		Lineage:       s.Lineage,
		Resources:     make([]resourceV1, 0, len(s.Resources)),
	}
	for _, addr := range s.Addresses() {
		r := s.Resources[addr]
		switch {
		case addr == "":
			return nil, errors.New("encode state: a resource has no address")
		case r == nil:
			return nil, fmt.Errorf("encode state: resource %q is nil", addr)
		case r.Addr != addr:
			return nil, fmt.Errorf("encode state: resource %q is stored under address %q", r.Addr, addr)
		}
		rf := resourceV1{
			Address:             r.Addr,
			Type:                r.Type,
			DeviceID:            r.DeviceID,
			ModuleID:            r.ModuleID,
			PrimaryThumbprint:   r.PrimaryThumbprint,
			SecondaryThumbprint: r.SecondaryThumbprint,
			ExplicitKeys:        r.ExplicitKeys,
			KeyVersion:          r.KeyVersion,
			Edge:                r.Edge,
			Parent:              r.Parent,
			ManagedBy:           r.ManagedBy,
			Dependencies:        r.Dependencies,
			SensitivePaths:      r.Sensitive,
			ObjectID:            r.ObjectID,
			Spec:                r.Spec,
			JobStatus:           r.JobStatus,
			GenerationID:        r.GenerationID,
			ETag:                r.ETag,
			TwinETag:            r.TwinETag,
			Status:              string(r.Status),
			StatusReason:        r.StatusReason,
			Auth:                string(r.Auth),
			Tags:                r.Tags,
			Desired:             r.Desired,
		}
		if r.PrimaryKey != "" || r.SecondaryKey != "" {
			rf.Sensitive = &sensitiveV1{PrimaryKey: r.PrimaryKey, SecondaryKey: r.SecondaryKey}
		}
		f.Resources = append(f.Resources, rf)
	}
	for name, o := range s.Outputs {
		if f.Outputs == nil {
			f.Outputs = map[string]outputV1{}
		}
		f.Outputs[name] = outputV1{Value: o.Value, Sensitive: o.Sensitive}
	}
	return f, nil
}

// jsonError turns an error of encoding/json about data into a *ReadError that
// says where the problem is and names fields as the file does.
func jsonError(data []byte, err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		// Offset counts the byte that was wrong, unless the input ended.
		off := syntax.Offset
		if off > 0 && !isTruncated(syntax) {
			off--
		}
		line, col := position(data, off)
		return &ReadError{Line: line, Column: col, Err: syntax}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &ReadError{Err: fmt.Errorf("a state file is a JSON object, not %s", jsonValue(typ.Value))}
		}
		// Offset is just past the wrong value; point at its last byte.
		line, col := position(data, max(typ.Offset-1, 0))
		return &ReadError{Line: line, Column: col,
			Err: fmt.Errorf("%s must be %s, not %s", typ.Field, kindOf(typ.Type), jsonValue(typ.Value))}
	default:
		return &ReadError{Err: errors.New(strings.TrimPrefix(err.Error(), "json: "))}
	}
}

func isTruncated(e *json.SyntaxError) bool {
	return strings.Contains(e.Error(), "unexpected end")
}

// position returns the 1-based line and column (in characters) of byte off.
func position(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, 1 + utf8.RuneCount(before)
}

// kindOf names, as the user sees the file, the JSON value that Go type t
// decodes.
func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	default:
		return "a JSON value"
	}
}

// jsonValue rewords the Value of a json.UnmarshalTypeError: "number -1",
// "number", "string", "bool", "array" or "object".
func jsonValue(v string) string {
	switch {
	case strings.HasPrefix(v, "number "):
		return strings.TrimPrefix(v, "number ")
	case v == "bool":
		return "true or false"
	case v == "array" || v == "object":
		return "an " + v
	default:
		return "a " + v
	}
}
