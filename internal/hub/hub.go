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

	// CreateJob creates a job (jobs v2, PUT /jobs/v2/{jobId}): a direct
	// method to call, or a twin patch to apply, on every device its query
	// condition matches when it starts. The hub runs it: at once, or at its
	// start time. An ID in use is a 409 JobAlreadyExists (409104) error;
	// more active jobs than the hub's tier allows a 429
	// ThrottlingMaxActiveJobCountExceeded (429004) error.
	CreateJob(ctx context.Context, req *JobRequest) (*JobResponse, error)
	// Job returns a job with its statistics. An unknown job is a 404
	// JobNotFound (404002) error.
	Job(ctx context.Context, id string) (*JobResponse, error)
	// CancelJob cancels a job that has not ended and returns it; a job
	// that has ended is returned as it is.
	CancelJob(ctx context.Context, id string) (*JobResponse, error)
	// Jobs lists the hub's jobs one page at a time (GET /jobs/v2/query).
	// jobType and status, when not empty, filter them; status may be
	// spelled any of the ways the service and its SDKs spell it.
	Jobs(ctx context.Context, jobType, status string, opts QueryOptions) (*JobPage, error)

	// Configuration returns an automatic device configuration. An unknown
	// one is a 404 ConfigurationNotFound (404301) error.
	Configuration(ctx context.Context, id string) (*Configuration, error)
	// Configurations lists up to top configurations (all when top is 0 or
	// less).
	Configurations(ctx context.Context, top int) ([]Configuration, error)
	// CreateConfiguration creates a configuration (PUT without If-Match).
	// An ID in use is a 409 ConfigurationAlreadyExists (409401) error.
	CreateConfiguration(ctx context.Context, c *Configuration) (*Configuration, error)
	// UpdateConfiguration changes a configuration's target condition,
	// priority, labels and metric queries. Its content cannot change: a
	// different one is a 400 CannotModifyImmutableConfigurationContent
	// (400403) error.
	UpdateConfiguration(ctx context.Context, c *Configuration, ifMatch string) (*Configuration, error)
	// DeleteConfiguration removes a configuration; the hub then takes
	// what it wrote out of the twins no other configuration claims.
	DeleteConfiguration(ctx context.Context, id, ifMatch string) error
	// TestConfigurationQueries checks a target condition and custom
	// metric queries without creating a configuration, and says what is
	// wrong with each.
	TestConfigurationQueries(ctx context.Context, in *ConfigurationQueriesTestInput) (*ConfigurationQueriesTestResponse, error)
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
