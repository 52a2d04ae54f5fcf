// Package config loads the *.hcl files of a working folder into the desired
// model of a fleet ([Config]): it evaluates variables, locals, functions and
// for_each, decodes each block kind with its own schema, and checks every
// value against the hub's limits, reporting problems as hcl.Diagnostics with
// the file, line and column of the offending value.
//
// The language follows Terraform's conventions: variable blocks set from -var
// values, locals blocks, device blocks addressed as device.name or
// device.name["key"], and the go-cty functions Terraform exposes, plus file
// and fileexists, which read the working folder.
//
// The package reads nothing but the fs.FS it is given and writes nothing; it
// knows nothing of state, plans or the hub's current contents. Problems in
// what the user wrote are diagnostics, never panics.
package config
