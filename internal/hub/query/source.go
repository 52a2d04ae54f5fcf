package query

// Source is the collection a query reads, named in its FROM clause.
type Source uint8

// The three collections of the IoT Hub query language.
const (
	Devices Source = iota + 1 // FROM devices: device twins
	Modules                   // FROM devices.modules: module twins
	Jobs                      // FROM devices.jobs: per-device job records
)

// String returns the collection's name as written after FROM.
func (s Source) String() string {
	switch s {
	case Devices:
		return "devices"
	case Modules:
		return "devices.modules"
	case Jobs:
		return "devices.jobs"
	}
	return "Source(?)"
}
