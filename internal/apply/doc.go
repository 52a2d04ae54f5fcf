// Package apply executes a plan.Plan against a hub: deletes first, then
// creates and updates, with bounded parallelism, saving the state after
// every batch so that an interruption loses nothing. It reports progress
// through a Hook and never prints.
package apply
