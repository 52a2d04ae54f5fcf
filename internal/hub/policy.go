package hub

import "strings"

// Right is one permission of a shared access policy.
type Right string

// The rights of IoT Hub's shared access policies.
const (
	RegistryRead   Right = "RegistryRead"
	RegistryWrite  Right = "RegistryWrite"
	ServiceConnect Right = "ServiceConnect"
	DeviceConnect  Right = "DeviceConnect"
)

// SharedAccessPolicy is a named pair of keys with rights on the hub. Its
// keys are secrets.
type SharedAccessPolicy struct {
	KeyName      string
	PrimaryKey   string
	SecondaryKey string
	Rights       []Right
}

// Has reports whether the policy grants r. RegistryWrite implies
// RegistryRead, as in IoT Hub.
func (p *SharedAccessPolicy) Has(r Right) bool {
	for _, g := range p.Rights {
		if g == r || r == RegistryRead && g == RegistryWrite {
			return true
		}
	}
	return false
}

// DefaultPolicies lists the policies a new hub has, with their rights, as
// IoT Hub creates them.
var DefaultPolicies = []SharedAccessPolicy{
	{KeyName: "iothubowner", Rights: []Right{RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect}},
	{KeyName: "service", Rights: []Right{ServiceConnect}},
	{KeyName: "device", Rights: []Right{DeviceConnect}},
	{KeyName: "registryRead", Rights: []Right{RegistryRead}},
	{KeyName: "registryReadWrite", Rights: []Right{RegistryRead, RegistryWrite}},
}

// FindPolicy returns the policy named name (matched exactly, else without
// regard to case), or nil.
func FindPolicy(policies []SharedAccessPolicy, name string) *SharedAccessPolicy {
	for i := range policies {
		if policies[i].KeyName == name {
			return &policies[i]
		}
	}
	for i := range policies {
		if strings.EqualFold(policies[i].KeyName, name) {
			return &policies[i]
		}
	}
	return nil
}
