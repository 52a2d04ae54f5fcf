// Command iotplan-bench measures iotplan on synthetic fleets of 1,000 to
// 100,000 devices: apply, plan and destroy run as the real iotplan binary,
// against the embedded hub and through `iotplan hub serve`, next to a naive
// refresh that reads one twin per call. It prints a table of medians with
// their min–max over several runs and writes the figures as JSON.
//
// docs/benchmarks.md describes what it measures and records a run.
package main

import "os"

func main() { os.Exit(Main()) }
