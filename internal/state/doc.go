// Package state holds what iotplan knows it manages: the State model of the
// hub objects it created or imported, the versioned JSON file that stores it,
// and the local file backend that loads, saves and locks that file.
//
// A State is a plain value that one goroutine owns; the goroutines of an apply
// share one through a Sync, which locks and deep-copies. The file format is
// kept apart from the model: unexported structs per format version, read by
// Read, which upgrades older versions one step at a time, and written by
// Write in the newest version, sorted, so that the same state always gives
// the same bytes. Saving a File writes a temporary file and renames it over
// the old one, so a crash at any moment leaves either the old state or the
// new one, never a mix.
//
// The package imports only the hub's types. It knows nothing of the
// configuration, plans or apply, never talks to a hub, and does no I/O other
// than the state file, its backup and its lock file.
package state
