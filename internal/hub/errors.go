package hub

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors that callers branch on. An *Error Is the sentinel of its
// HTTP status.
var (
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrBadRequest         = errors.New("bad request")
	ErrUnauthorized       = errors.New("unauthorized")
	ErrForbidden          = errors.New("forbidden")
	ErrTooLarge           = errors.New("too large")
	ErrThrottled          = errors.New("throttled")
	ErrUnavailable        = errors.New("service unavailable")
	ErrTimeout            = errors.New("gateway timeout")
)

// Error is an error answered by a hub: the HTTP status, IoT Hub's six-digit
// error code and its name, the hub's message and its tracking ID.
// It never holds a credential.
type Error struct {
	StatusCode int
	Code       int    // e.g. 404001
	Name       string // e.g. "DeviceNotFound"
	Message    string
	TrackingID string
}

func (e *Error) Error() string {
	name := e.Name
	if name == "" {
		name = http.StatusText(e.StatusCode)
	}
	if e.Code != 0 {
		return fmt.Sprintf("%s (%d): %s", name, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s", name, e.Message)
}

// Is reports whether target is the sentinel of e's status.
func (e *Error) Is(target error) bool {
	switch e.StatusCode {
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusConflict:
		return target == ErrAlreadyExists
	case http.StatusPreconditionFailed:
		return target == ErrPreconditionFailed
	case http.StatusBadRequest:
		return target == ErrBadRequest
	case http.StatusUnauthorized:
		return target == ErrUnauthorized
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusRequestEntityTooLarge:
		return target == ErrTooLarge
	case http.StatusTooManyRequests:
		return target == ErrThrottled
	case http.StatusServiceUnavailable:
		return target == ErrUnavailable
	case http.StatusGatewayTimeout:
		return target == ErrTimeout
	}
	return false
}

// Errorf builds an *Error from an error code such as CodeDeviceNotFound.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{StatusCode: code.Number / 1000, Code: code.Number, Name: code.Name, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode is one of IoT Hub's error codes: its six-digit number (HTTP
// status × 1000 + sub-code) and its name.
type ErrorCode struct {
	Number int
	Name   string
}

// The error codes of the device-management surface.
var (
	CodeArgumentInvalid             = ErrorCode{400004, "ArgumentInvalid"}
	CodeIotHubFormatError           = ErrorCode{400006, "IotHubFormatError"}
	CodeDeviceDefinedMultipleTimes  = ErrorCode{400011, "DeviceDefinedMultipleTimes"}
	CodeBulkRegistryOperationFailed = ErrorCode{400013, "BulkRegistryOperationFailure"}
	CodeUnauthorized                = ErrorCode{401002, "IotHubUnauthorizedAccess"}
	CodeDeviceNotFound              = ErrorCode{404001, "DeviceNotFound"}
	CodeModuleNotFound              = ErrorCode{404010, "ModuleNotFound"}
	CodeDeviceAlreadyExists         = ErrorCode{409001, "DeviceAlreadyExists"}
	CodeModuleAlreadyExists         = ErrorCode{409301, "ModuleAlreadyExistsOnDevice"}
	CodePreconditionFailed          = ErrorCode{412001, "PreconditionFailed"}
	CodeMessageTooLarge             = ErrorCode{413001, "MessageTooLarge"}
	CodeTooManyDevices              = ErrorCode{413002, "TooManyDevices"}
	CodeTooManyModulesOnDevice      = ErrorCode{413003, "TooManyModulesOnDevice"}
	CodeDeviceNotOnline             = ErrorCode{404103, "DeviceNotOnline"}
	CodeThrottled                   = ErrorCode{429001, "ThrottlingException"}
	CodeServerError                 = ErrorCode{500001, "ServerError"}
	CodeServiceUnavailable          = ErrorCode{503001, "ServiceUnavailable"}
	CodeGatewayTimeout              = ErrorCode{504101, "GatewayTimeout"}
)
