// Package localhub is the embedded IoT hub: a registry of device and module
// identities with their twins, kept in one bbolt file, that answers the
// hub.Hub interface with Azure IoT Hub's semantics (etags and If-Match,
// generated SAS keys, twin merge rules, versions and $metadata, paged twin
// queries). plan and apply use it in-process when no hub is configured.
//
// One bbolt record holds a device's identity and twin, so every registry or
// twin operation is a single transaction over one key; modules live in their
// own bucket under deviceID + "\x00" + moduleID. Reads never decode more
// than the records they return, so the store scales to hundreds of
// thousands of devices. No network I/O happens inside a transaction.
//
// The package stands in for the cloud service: it never imports the engine
// (config, state, plan, apply), and it knows nothing of the files that
// describe a fleet.
package localhub
