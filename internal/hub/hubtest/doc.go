// Package hubtest is the contract test suite of hub.Hub. Every
// implementation (the embedded local hub, the REST client against
// `iotplan hub serve` or Azure IoT Hub) runs Conformance from its own tests.
//
// The suite tests only through the hub.Hub interface and only behaviour the
// service reference documents: registry create/get/update/delete of devices
// and modules, bulk registry calls, etags and If-Match, twin merge and
// replace rules, versions and $metadata, query paging, statistics and the
// typed errors. What an implementation decides where the reference is
// silent (etag formats, result order, the exact page sizes, error texts,
// the codes of failed bulk entries) belongs in that implementation's own
// tests.
//
// The suite names its devices after the running test and deletes them when
// a test ends, so it may run against a hub that holds other devices; it
// never relies on the hub being empty.
package hubtest
