package state

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

var update = flag.Bool("update", false, "rewrite the .out.json files of testdata")

// TestRoundTrip reads each testdata/<case>.in.json, writes it, and expects
// <case>.out.json; the output must read back to the same state and write the
// same bytes again.
func TestRoundTrip(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join("testdata", "*.in.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		t.Fatal("no testdata/*.in.json")
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			s := mustRead(t, readFile(t, in))
			got := mustWrite(t, s)
			out := strings.TrimSuffix(in, ".in.json") + ".out.json"
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff(string(readFile(t, out)), string(got)); d != "" {
				t.Errorf("Write(Read(%s)) mismatch (-want +got):\n%s", in, d)
			}
			again := mustRead(t, got)
			if d := cmp.Diff(s, again); d != "" {
				t.Errorf("Read(Write(s)) mismatch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(string(got), string(mustWrite(t, again))); d != "" {
				t.Errorf("second Write mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestReadValues(t *testing.T) {
	s := mustRead(t, readFile(t, filepath.Join("testdata", "unsorted.in.json")))
	want := &State{
		Lineage: "0f8fad5b-d9cb-469f-a165-70867728950e",
		Serial:  7,
		Resources: map[string]*Resource{
			`device.thermo["a1"]`: {
				Addr: `device.thermo["a1"]`, Type: "device", DeviceID: "thermo-a1", GenerationID: "637",
				ETag: "MQ==", TwinETag: "AAAAAAAAAAE=", Status: hub.StatusEnabled, Auth: hub.AuthSAS,
				PrimaryKey: "cHJpbWFyeQ==", SecondaryKey: "c2Vjb25kYXJ5",
			},
			`device.thermo["b2"]`: {
				Addr: `device.thermo["b2"]`, Type: "device", DeviceID: "thermo-b2", GenerationID: "638",
				ETag: "Mg==", TwinETag: "AAAAAAAAAAM=", Status: hub.StatusDisabled, StatusReason: "decommissioned",
				Auth: hub.AuthSelfSigned,
			},
			"device.gateway": {
				Addr: "device.gateway", Type: "device", DeviceID: "gw-1", GenerationID: "1",
				ETag: "Mw==", TwinETag: "AAAAAAAAAAI=", Status: hub.StatusEnabled, Auth: hub.AuthNone,
			},
		},
	}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("Read() mismatch (-want +got):\n%s", d)
	}
}

func TestReadError(t *testing.T) {
	const lin = `"lineage":"l"`
	tests := map[string]struct {
		in       string
		want     error // the error Is this
		line     int   // when non-zero, the *ReadError's position
		col      int
		notWants []error // the error Is none of these
	}{
		"empty":                     {in: "", want: ErrNoState, notWants: []error{ErrUnusableState}},
		"white space":               {in: " \n\t\r\n", want: ErrNoState, notWants: []error{ErrUnusableState}},
		"truncated":                 {in: "{\n  \"format_version\": 1,\n  \"serial\"", want: ErrUnusableState, line: 3, col: 11},
		"bad character":             {in: "{\n  \"format_version\": 1,\n  x", want: ErrUnusableState, line: 3, col: 3},
		"bad character wide":        {in: "{\"lineage\": \"é\" x", want: ErrUnusableState, line: 1, col: 17},
		"trailing data":             {in: `{"format_version":1,` + lin + "}\n{}", want: ErrUnusableState, line: 2, col: 1},
		"array":                     {in: `[]`, want: ErrUnusableState},
		"string":                    {in: `"state"`, want: ErrUnusableState},
		"no version":                {in: `{"serial":1,` + lin + `}`, want: ErrUnusableState, notWants: []error{ErrNoState}},
		"null version":              {in: `{"format_version":null}`, want: ErrUnusableState},
		"string version":            {in: `{"format_version":"1"}`, want: ErrUnusableState},
		"fraction version":          {in: `{"format_version":1.5}`, want: ErrUnusableState},
		"version zero":              {in: `{"format_version":0}`, want: ErrUnusableState, notWants: []error{ErrNewerFormat}},
		"newer version":             {in: `{"format_version":2,"anything":{"new":true}}`, want: ErrNewerFormat},
		"newer version is unusable": {in: `{"format_version":99}`, want: ErrUnusableState},
		"negative serial":           {in: "{\"format_version\":1,\n\"serial\":-1}", want: ErrUnusableState, line: 2, col: 11},
		"number address":            {in: `{"format_version":1,` + lin + `,"resources":[{"address":1}]}`, want: ErrUnusableState, line: 1, col: 59},
		"array tags":                {in: `{"format_version":1,` + lin + `,"resources":[{"address":"a","tags":[]}]}`, want: ErrUnusableState},
		"unknown field":             {in: `{"format_version":1,` + lin + `,"extra":1}`, want: ErrUnusableState},
		"unknown resource field":    {in: `{"format_version":1,` + lin + `,"resources":[{"address":"a","owner":"x"}]}`, want: ErrUnusableState},
		"no lineage":                {in: `{"format_version":1}`, want: ErrUnusableState},
		"no address":                {in: `{"format_version":1,` + lin + `,"resources":[{"type":"device"}]}`, want: ErrUnusableState},
		"null resource":             {in: `{"format_version":1,` + lin + `,"resources":[null]}`, want: ErrUnusableState},
		"duplicate address": {
			in:   `{"format_version":1,` + lin + `,"resources":[{"address":"device.a"},{"address":"device.b"},{"address":"device.a"}]}`,
			want: ErrUnusableState,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := Read(strings.NewReader(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read() = %v, %v; want an error that Is %v", s, err, tt.want)
			}
			for _, nw := range tt.notWants {
				if errors.Is(err, nw) {
					t.Errorf("Read() error %q Is %v", err, nw)
				}
			}
			if s != nil {
				t.Errorf("Read() state = %v, want nil", s)
			}
			if tt.line == 0 {
				return
			}
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("Read() error %q is no *ReadError", err)
			}
			if re.Line != tt.line || re.Column != tt.col {
				t.Errorf("Read() error at %d:%d, want %d:%d (%v)", re.Line, re.Column, tt.line, tt.col, err)
			}
		})
	}
}

func TestReadReaderError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Read(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("Read() = %v, want an error that Is %v", err, boom)
	}
}

func TestWriteError(t *testing.T) {
	tests := map[string]*State{
		"nil state":    nil,
		"no lineage":   {Resources: map[string]*Resource{}},
		"nil resource": {Lineage: "l", Resources: map[string]*Resource{"device.a": nil}},
		"address mismatch": {Lineage: "l", Resources: map[string]*Resource{
			"device.a": {Addr: "device.b"},
		}},
		"empty address": {Lineage: "l", Resources: map[string]*Resource{"": {}}},
		"unencodable value": {Lineage: "l", Resources: map[string]*Resource{
			"device.a": {Addr: "device.a", Tags: map[string]any{"c": make(chan int)}},
		}},
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, s); err == nil {
				t.Errorf("Write() = nil, want an error")
			}
			if buf.Len() != 0 {
				t.Errorf("Write() wrote %q on error", buf.String())
			}
		})
	}
}

func TestWriteDeterministic(t *testing.T) {
	s := New()
	for _, addr := range []string{"device.c", "device.a", "device.b", `device.x["1"]`, "device.x"} {
		s.Resources[addr] = &Resource{Addr: addr, Type: "device", Tags: map[string]any{"z": 1.0, "a": []any{"<&>"}, "m": 2.0}}
	}
	first := mustWrite(t, s)
	for range 20 {
		if d := cmp.Diff(string(first), string(mustWrite(t, s.DeepCopy()))); d != "" {
			t.Fatalf("Write() output differs between runs (-first +now):\n%s", d)
		}
	}
	if !bytes.HasSuffix(first, []byte("}\n")) {
		t.Errorf("Write() output does not end with a newline: %q", first)
	}
	if !bytes.Contains(first, []byte(`"<&>"`)) {
		t.Errorf("Write() escaped HTML characters: %s", first)
	}
}

// FuzzRead checks that Read never panics and that whatever it reads
// round-trips: written and read again, it is the same state, and it writes
// the same bytes.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Read(bytes.NewReader(data))
		if err != nil {
			if s != nil {
				t.Fatalf("Read() returned a state and the error %v", err)
			}
			if !errors.Is(err, ErrNoState) && !errors.Is(err, ErrUnusableState) {
				t.Fatalf("Read() error %v is neither ErrNoState nor ErrUnusableState", err)
			}
			return
		}
		first := mustWrite(t, s)
		again := mustRead(t, first)
		if d := cmp.Diff(s, again); d != "" {
			t.Fatalf("Read(Write(s)) mismatch (-want +got):\n%s", d)
		}
		if d := cmp.Diff(string(first), string(mustWrite(t, again))); d != "" {
			t.Fatalf("second Write mismatch (-want +got):\n%s", d)
		}
	})
}

func mustRead(t *testing.T, data []byte) *State {
	t.Helper()
	s, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Read(%q): %v", data, err)
	}
	return s
}

func mustWrite(t *testing.T, s *State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, s); err != nil {
		t.Fatalf("Write(): %v", err)
	}
	return buf.Bytes()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
