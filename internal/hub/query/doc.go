// Package query is the IoT Hub query language: a hand-written lexer and
// recursive-descent parser for
//
//	SELECT [TOP n] (* | path [AS alias], ... | COUNT() | AVG/SUM/MIN/MAX(path) [AS alias], ...)
//	FROM devices | devices.modules | devices.jobs
//	[WHERE condition] [GROUP BY path]
//
// and an evaluator of parsed queries over twin documents and per-device job
// records, as encoding/json decodes them into map[string]any. The local hub
// uses it to answer queries and to pick the targets of jobs and automatic
// configurations; plan uses it to preview those targets.
//
// Evaluation follows Azure IoT Hub's documented semantics: property names
// match case-insensitively, string values compare case-sensitively, a path
// that names nothing is undefined, comparisons with undefined are undefined,
// AND, OR and NOT use three-valued logic, and a document matches only when
// its condition is Boolean true. docs/query.md is the user's reference,
// including the choices made where Azure's documentation is silent.
//
// The package is pure: it does no I/O, keeps no state between calls, and
// never panics on any input. Parse errors are *SyntaxError values that name
// the column at fault. It does not page results or read a store; DeviceIDs
// and TagEquals give a store the constraints it can answer from an index
// before it decodes documents.
package query
