package localhub

import (
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
)

// The *hub.Error answers shared by the registry and the twins. Messages name
// the object concerned, never a credential.

func checkID(kind, id string) error {
	if err := hub.ValidateID(id); err != nil {
		return hub.Errorf(hub.CodeArgumentInvalid, "invalid %s ID: %v", kind, err)
	}
	return nil
}

func deviceNotFound(id string) error {
	return hub.Errorf(hub.CodeDeviceNotFound, "device %q is not registered", id)
}

func moduleNotFound(deviceID, moduleID string) error {
	return hub.Errorf(hub.CodeModuleNotFound, "module %q is not registered on device %q", moduleID, deviceID)
}

func preconditionFailed(what, current, ifMatch string) error {
	return hub.Errorf(hub.CodePreconditionFailed, "%s has changed: its etag is %s, the request expected %s", what, current, strings.TrimSpace(ifMatch))
}

// twinContentError turns the problems ValidateTwinSection found into one
// 400 answer that lists them all.
func twinContentError(section string, problems []*hub.ValueError) error {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	return hub.Errorf(hub.CodeArgumentInvalid, "invalid twin %s: %s", section, strings.Join(msgs, "; "))
}
