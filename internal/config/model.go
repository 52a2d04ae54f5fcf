package config

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/hcl/v2"

	"github.com/iotplan/iotplan/internal/hub"
)

// Config is the desired model of a fleet: everything the *.hcl files of a
// working folder declare, with variables, locals and for_each expanded.
type Config struct {
	// Devices are sorted by address.
	Devices []*Device
}

// Device is one device the configuration declares, after for_each expansion.
type Device struct {
	Addr         Addr
	DeviceID     string
	Status       hub.Status // enabled when not set
	StatusReason string
	// Tags and Desired are the twin sections the configuration owns, as JSON
	// values (string, float64, bool, map[string]any, []any). Null values in
	// the configuration are left out, as if not written. nil when not set.
	Tags    map[string]any
	Desired map[string]any

	// DeclRange is the range of the block header; Ranges holds the range of
	// each attribute's expression by attribute name.
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Addr is the address of a resource instance, as Terraform writes them:
// device.thermo, device.thermo["a"], device.thermo[0].
type Addr struct {
	Type string // "device"
	Name string // the block label
	// Key is nil for a block without for_each or count, a string for
	// for_each, an int for count.
	Key any
}

func (a Addr) String() string {
	s := a.Type + "." + a.Name
	switch k := a.Key.(type) {
	case nil:
	case string:
		s += "[" + strconv.Quote(k) + "]"
	case int:
		s += "[" + strconv.Itoa(k) + "]"
	default:
		panic(fmt.Sprintf("config: address key of type %T", k))
	}
	return s
}
