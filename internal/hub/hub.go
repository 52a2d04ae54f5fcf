package hub

import "context"

// Hub is what iotplan needs of an IoT hub. Two implementations exist: the
// embedded local hub (package localhub) and the REST client for Azure IoT Hub
// or `iotplan hub serve`; both must pass the same contract tests.
//
// Writes take an ifMatch etag: "" on create, the etag last seen or "*" on
// update and delete. A mismatch is an error that Is ErrPreconditionFailed.
// Errors from the hub are *Error values; missing objects are ErrNotFound.
type Hub interface {
	// Device returns a device identity, with its keys.
	Device(ctx context.Context, id string) (*Device, error)
	// CreateDevice registers a device. SAS keys left empty are generated.
	CreateDevice(ctx context.Context, d *Device) (*Device, error)
	// UpdateDevice replaces a device's updatable identity fields.
	UpdateDevice(ctx context.Context, d *Device, ifMatch string) (*Device, error)
	// DeleteDevice removes a device, its twin and its modules.
	DeleteDevice(ctx context.Context, id, ifMatch string) error

	// Module returns a module identity.
	Module(ctx context.Context, deviceID, moduleID string) (*Module, error)
	// Modules lists the modules of a device, sorted by module ID.
	Modules(ctx context.Context, deviceID string) ([]Module, error)
	// CreateModule registers a module on an existing device.
	CreateModule(ctx context.Context, m *Module) (*Module, error)
	// UpdateModule replaces a module's updatable identity fields.
	UpdateModule(ctx context.Context, m *Module, ifMatch string) (*Module, error)
	// DeleteModule removes a module and its twin.
	DeleteModule(ctx context.Context, deviceID, moduleID, ifMatch string) error

	// Twin returns a device twin.
	Twin(ctx context.Context, deviceID string) (*Twin, error)
	// PatchTwin merges tags and desired properties into a device twin and
	// returns the updated twin.
	PatchTwin(ctx context.Context, deviceID string, patch TwinPatch, ifMatch string) (*Twin, error)
	// ModuleTwin returns a module twin.
	ModuleTwin(ctx context.Context, deviceID, moduleID string) (*Twin, error)
	// PatchModuleTwin merges tags and desired properties into a module twin.
	PatchModuleTwin(ctx context.Context, deviceID, moduleID string, patch TwinPatch, ifMatch string) (*Twin, error)
	// ReplaceTwin replaces the tags and the desired properties of a device
	// twin wholesale (PUT /twins/{id}) and returns the updated twin. Here a
	// nil map empties its section, and a nil value inside one is refused:
	// a twin cannot store null. Desired $version goes up by one.
	ReplaceTwin(ctx context.Context, deviceID string, replacement TwinPatch, ifMatch string) (*Twin, error)
	// ReplaceModuleTwin replaces the tags and desired properties of a
	// module twin, under the rules of ReplaceTwin.
	ReplaceModuleTwin(ctx context.Context, deviceID, moduleID string, replacement TwinPatch, ifMatch string) (*Twin, error)

	// QueryTwins runs a twin query (SELECT * FROM devices or devices.modules)
	// and returns one page of twins. Pass the page's Continuation back in
	// opts to read the next page; it is empty on the last page.
	QueryTwins(ctx context.Context, query string, opts QueryOptions) (*TwinPage, error)

	// InvokeDeviceMethod calls a direct method on a connected device and
	// returns its answer. An offline device is a 404 DeviceNotOnline
	// (404103) error, a device that does not answer in time a 504
	// GatewayTimeout (504101).
	InvokeDeviceMethod(ctx context.Context, deviceID string, req MethodRequest) (*MethodResult, error)
	// InvokeModuleMethod calls a direct method on a connected module.
	InvokeModuleMethod(ctx context.Context, deviceID, moduleID string, req MethodRequest) (*MethodResult, error)

	// BulkRegistry creates, updates and deletes up to MaxBulkDevices
	// identities, or overwrites their twins, in one call (POST /devices).
	// Entries are carried out in order and each on its own: one that fails
	// is reported in the result's Errors, and the others still take effect.
	// More than MaxBulkDevices entries is a 413 TooManyDevices error, an
	// identity named twice a 400 DeviceDefinedMultipleTimes error; then
	// nothing is done.
	BulkRegistry(ctx context.Context, entries []ExportImportDevice) (*BulkRegistryOperationResult, error)

	// Statistics counts the devices of the hub.
	Statistics(ctx context.Context) (*RegistryStatistics, error)
}

// QueryOptions controls the paging of a query.
type QueryOptions struct {
	// PageSize is the largest number of items wanted in one page; 0 lets
	// the hub choose (100).
	PageSize int
	// Continuation is the token of the previous page, "" for the first.
	Continuation string
}

// TwinPage is one page of a twin query.
type TwinPage struct {
	Twins []Twin
	// Continuation is the token for the next page; "" on the last page.
	Continuation string
}
