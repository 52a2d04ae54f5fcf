package hub

import "strings"

// More of IoT Hub's error codes: those the REST server answers with beyond
// the device-management ones of errors.go. The generic codes ("Generic…")
// follow IoT Hub's rule that a code is the HTTP status × 1000 plus a
// sub-code, with sub-code 0; the service's enum lists their names.
var (
	CodeGenericBadRequest            = ErrorCode{400000, "GenericBadRequest"}
	CodeInvalidProtocolVersion       = ErrorCode{400001, "InvalidProtocolVersion"}
	CodeInvalidOperation             = ErrorCode{400003, "InvalidOperation"}
	CodeArgumentNull                 = ErrorCode{400005, "ArgumentNull"}
	CodeGenericNotFound              = ErrorCode{404000, "GenericNotFound"}
	CodeGenericMethodNotAllowed      = ErrorCode{405000, "GenericMethodNotAllowed"}
	CodeGenericRequestEntityTooLarge = ErrorCode{413000, "GenericRequestEntityTooLarge"}
	CodeGenericServerError           = ErrorCode{500000, "GenericServerError"}
	CodeGenericBadGateway            = ErrorCode{502000, "GenericBadGateway"}
)

// errorCodes lists every code whose name and number the reference gives
// together, so that an error carrying only one of them can be completed.
var errorCodes = []ErrorCode{
	CodeGenericBadRequest, CodeInvalidProtocolVersion, CodeInvalidOperation,
	CodeArgumentInvalid, CodeArgumentNull, CodeIotHubFormatError,
	CodeDeviceDefinedMultipleTimes, CodeBulkRegistryOperationFailed,
	{400023, "EtagDoesNotMatch"}, {400028, "InvalidDeviceScope"},
	{400401, "InvalidConfigurationTargetCondition"}, {400402, "InvalidConfigurationContent"},
	{400403, "CannotModifyImmutableConfigurationContent"}, {400404, "InvalidConfigurationCustomMetricsQuery"},
	CodeUnauthorized,
	{403002, "IotHubQuotaExceeded"}, {403004, "DeviceMaximumQueueDepthExceeded"},
	{403010, "OperationNotAvailableInCurrentTier"}, {403012, "DeviceDisabled"},
	CodeGenericNotFound, CodeDeviceNotFound, {404002, "JobNotFound"}, CodeModuleNotFound,
	CodeDeviceNotOnline, {404301, "ConfigurationNotFound"},
	CodeGenericMethodNotAllowed,
	{408000, "RequestTimeout"},
	CodeDeviceAlreadyExists, {409103, "DeviceJobAlreadyExists"}, {409104, "JobAlreadyExists"},
	CodeModuleAlreadyExists, {409401, "ConfigurationAlreadyExists"},
	{409402, "ApplyConfigurationAlreadyInProgressOnDevice"},
	CodePreconditionFailed, {412002, "DeviceMessageLockLost"},
	CodeGenericRequestEntityTooLarge, CodeMessageTooLarge, CodeTooManyDevices, CodeTooManyModulesOnDevice,
	{413101, "ConfigurationCountLimitExceeded"},
	{429000, "GenericTooManyRequests"}, CodeThrottled, {429002, "ThrottleBacklogLimitExceeded"},
	{429003, "ThrottlingBacklogTimeout"}, {429004, "ThrottlingMaxActiveJobCountExceeded"},
	{429005, "DeviceThrottlingLimitExceeded"},
	CodeGenericServerError, CodeServerError, CodeGenericBadGateway, CodeServiceUnavailable, CodeGatewayTimeout,
}

// LookupErrorName returns the code named name (compared without regard to
// case), or false.
func LookupErrorName(name string) (ErrorCode, bool) {
	for _, c := range errorCodes {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return ErrorCode{}, false
}

// LookupErrorNumber returns the code numbered n, or false.
func LookupErrorNumber(n int) (ErrorCode, bool) {
	for _, c := range errorCodes {
		if c.Number == n {
			return c, true
		}
	}
	return ErrorCode{}, false
}
