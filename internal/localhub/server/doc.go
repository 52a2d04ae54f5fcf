// Package server serves an embedded local hub (package localhub) over IoT
// Hub's service REST API, api-version 2021-04-12, so that iotplan's REST
// client, the Azure IoT SDKs and curl can use it as they use Azure IoT Hub:
// the registry (devices, modules, bulk calls, the device list and
// statistics), device and module twins (read, patch, replace), twin queries
// with paging headers, and direct methods.
//
// The wire follows the service reference where it is precise: paths and
// their percent-encoding, If-Match, status codes (200 on a device PUT, 204
// on a delete, 400 with the result on a failed bulk call), the paging
// headers of a query (no x-ms-continuation on the last page), SAS
// authentication against the hub's shared access policies with the rights
// each endpoint needs, and errors as IoT Hub's classic body:
//
//	{"Message":"ErrorCode:DeviceNotFound;…","ExceptionMessage":"Tracking ID:…-G:0-TimeStamp:…"}
//
// with the error's name in an iothub-errorcode header. Request bodies are
// bounded and decoded strictly: invalid UTF-8, malformed JSON, duplicate
// or unknown members, and values of the wrong type are 400 answers that
// say what is wrong.
//
// The server never logs or echoes a token or a key. It holds no state of
// its own beyond what the hub stores; certs.go makes the TLS identity that
// `iotplan hub serve` presents.
package server
