// Command iotplan manages IoT device fleets as code: HCL files declare the
// devices and their twins, `iotplan plan` shows what would change on the hub
// and `iotplan apply` makes it so.
package main

import "os"

func main() { os.Exit(Main()) }
