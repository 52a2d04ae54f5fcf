// Package device is the device side of IoT Hub: an MQTT 3.1.1 client (on
// paho) that speaks IoT Hub's device protocol as the official SDKs do
// (shared/reference/iothub-mqtt-device.md): SAS tokens signed with a
// device, module or policy key and renewed before they expire, X.509 client
// certificates, twin GET and reported PATCH, desired-property
// notifications, direct methods, device-to-cloud messages and
// cloud-to-device messages.
//
// `iotplan device simulate` is built on it, and so are the tests of the
// local hub's device endpoint. It imports nothing of iotplan but package
// hub's types and SAS tokens.
package device
