// Package hub holds what every part of iotplan agrees on about an IoT hub: the wire
// types of the service API (devices, twins, query pages), the Hub interface that the
// embedded local hub and the REST client both implement, the hub's typed errors, and
// its limits and identifier rules.
//
// It imports nothing else of iotplan, so that the configuration, the state, the plan
// and the local hub can all share it. It does no I/O of its own.
package hub
