package hub

import (
	"fmt"
	"regexp"
	"strings"
)

// ConnectionString is a parsed IoT Hub connection string: a service
// (policy) one, or a device or module one. It holds a secret: its String
// method redacts it, and errors about it never quote it.
type ConnectionString struct {
	HostName              string
	SharedAccessKeyName   string // policy name, service connection strings
	SharedAccessKey       string // secret
	SharedAccessSignature string // a pre-made token instead of a key; secret
	DeviceID              string
	ModuleID              string
	GatewayHostName       string
	X509                  bool
}

var (
	hostNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-\.]+(:[0-9]{1,5})?$`)
	keyNameRE  = regexp.MustCompile(`^[a-zA-Z0-9_\-@\.]{1,64}$`)
)

// ParseConnectionString parses `Key=Value;...` pairs. Each pair is split on
// its first '=' only, since base64 keys end in '='. A port after the host
// name is accepted (iotplan's own hub server can listen anywhere).
func ParseConnectionString(s string) (*ConnectionString, error) {
	cs := &ConnectionString{}
	seen := map[string]bool{}
	for i, part := range strings.Split(strings.TrimSpace(s), ";") {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("connection string: part %d has no '=' (expected Key=Value pairs separated by ';')", i+1)
		}
		k = strings.TrimSpace(k)
		if seen[strings.ToLower(k)] {
			return nil, fmt.Errorf("connection string: %s appears twice", safeName(k))
		}
		seen[strings.ToLower(k)] = true
		switch strings.ToLower(k) {
		case "hostname":
			cs.HostName = v
		case "sharedaccesskeyname":
			cs.SharedAccessKeyName = v
		case "sharedaccesskey":
			cs.SharedAccessKey = v
		case "sharedaccesssignature":
			cs.SharedAccessSignature = v
		case "deviceid":
			cs.DeviceID = v
		case "moduleid":
			cs.ModuleID = v
		case "gatewayhostname":
			cs.GatewayHostName = v
		case "x509":
			cs.X509 = strings.EqualFold(v, "true")
		default:
			return nil, fmt.Errorf("connection string: unknown part %s", safeName(k))
		}
	}
	switch {
	case cs.HostName == "":
		return nil, fmt.Errorf("connection string: HostName is missing")
	case !hostNameRE.MatchString(cs.HostName):
		return nil, fmt.Errorf("connection string: HostName %q is not a valid host name", cs.HostName)
	case cs.SharedAccessKeyName != "" && !keyNameRE.MatchString(cs.SharedAccessKeyName):
		return nil, fmt.Errorf("connection string: SharedAccessKeyName %q is not a valid policy name (up to 64 letters, digits, _ - @ .)", cs.SharedAccessKeyName)
	case cs.ModuleID != "" && cs.DeviceID == "":
		return nil, fmt.Errorf("connection string: ModuleId without DeviceId")
	case cs.SharedAccessKey == "" && cs.SharedAccessSignature == "" && !cs.X509:
		return nil, fmt.Errorf("connection string: it has neither SharedAccessKey nor SharedAccessSignature")
	}
	if cs.DeviceID != "" {
		if err := ValidateID(cs.DeviceID); err != nil {
			return nil, fmt.Errorf("connection string: DeviceId: %w", err)
		}
	}
	if cs.ModuleID != "" {
		if err := ValidateID(cs.ModuleID); err != nil {
			return nil, fmt.Errorf("connection string: ModuleId: %w", err)
		}
	}
	if cs.SharedAccessKey != "" {
		if err := ValidateSymmetricKey(cs.SharedAccessKey); err != nil {
			return nil, fmt.Errorf("connection string: SharedAccessKey: %w", err)
		}
	}
	return cs, nil
}

// safeName quotes a key name for an error, cut short so that a secret
// pasted in the wrong place is never echoed whole.
func safeName(k string) string {
	if len(k) > 32 {
		k = k[:8] + "…"
	}
	return fmt.Sprintf("%q", k)
}

// String returns the connection string with its secrets redacted.
func (cs *ConnectionString) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("HostName", cs.HostName)
	add("SharedAccessKeyName", cs.SharedAccessKeyName)
	add("DeviceId", cs.DeviceID)
	add("ModuleId", cs.ModuleID)
	if cs.SharedAccessKey != "" {
		add("SharedAccessKey", "(sensitive value)")
	}
	if cs.SharedAccessSignature != "" {
		add("SharedAccessSignature", "(sensitive value)")
	}
	add("GatewayHostName", cs.GatewayHostName)
	if cs.X509 {
		add("x509", "true")
	}
	return strings.Join(parts, ";")
}

// Secret returns the full connection string, secrets included, for a user
// who asked for it on purpose.
func (cs *ConnectionString) Secret() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("HostName", cs.HostName)
	add("SharedAccessKeyName", cs.SharedAccessKeyName)
	add("DeviceId", cs.DeviceID)
	add("ModuleId", cs.ModuleID)
	add("SharedAccessKey", cs.SharedAccessKey)
	add("SharedAccessSignature", cs.SharedAccessSignature)
	add("GatewayHostName", cs.GatewayHostName)
	if cs.X509 {
		add("x509", "true")
	}
	return strings.Join(parts, ";")
}
