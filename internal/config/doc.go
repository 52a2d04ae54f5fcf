// Package config loads the *.hcl files of a working folder into the desired
// model of a fleet ([Config]): devices and modules with their identities and
// twins, outputs, moved and import blocks, and the hub and backend settings.
// It evaluates variables (from defaults, IOTPLAN_VAR_name, *.iotvars files
// and -var options, by Terraform's precedence), locals, functions, count and
// for_each, and references between resources, which order them in a
// dependency graph ([Config.Graph]). Every value is checked against the
// hub's limits, and problems are hcl.Diagnostics with the file, line and
// column of the offending value.
//
// The language follows Terraform's conventions; docs/language.md is its
// reference. Values only the hub knows (generated keys, generation IDs,
// connection strings) come from [LoadOptions.Known], the prior state, and are
// unknown otherwise: they may reach outputs only. Sensitive values carry
// [SensitiveMark] and are listed in the model, so that no renderer shows
// them.
//
// The package reads nothing but the fs.FS it is given and the inputs in
// LoadOptions, and writes nothing; it knows nothing of state files, plans or
// the hub's current contents. Problems in what the user wrote are
// diagnostics, never panics.
package config
