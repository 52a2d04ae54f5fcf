// Package gateway is the device endpoint of the local hub: MQTT 3.1.1 as
// Azure IoT Hub speaks it to devices, on the mochi-mqtt broker engine, with
// IoT Hub's identities, topics and flows enforced in the broker's hooks.
//
// A device or module connects with its ID as the MQTT client ID, a username
// of the form {host}/{deviceId}[/{moduleId}]/?api-version=…, and either a
// SAS token as the password or an X.509 client certificate. Once connected
// it may use only its own topics (reference/iothub-mqtt-device.md §6): twin
// GET and reported PATCH, desired-property notifications, direct methods,
// device-to-cloud telemetry and cloud-to-device messages. Anything else
// closes the connection, as IoT Hub does. Nothing is ever routed from one
// device to another: every hub-to-device packet is written to one
// connection.
//
// A Gateway serves MQTT over TLS (or plain TCP) on the listener given to
// Run, and MQTT over WebSocket through WebSocketHandler, which the hub's
// HTTPS server mounts at WebSocketPath. While Run runs, the gateway is the
// hub's direct-method router and sends desired-property notifications;
// SendC2D queues cloud-to-device messages and Events streams what devices
// send.
//
// The gateway holds no data of its own beyond what is in flight. Identities,
// keys and twins live in the localhub.Hub it serves; telemetry goes to
// in-process subscribers (Events); cloud-to-device messages wait in memory
// (SendC2D). It never imports the engine (config, state, plan, apply).
package gateway
