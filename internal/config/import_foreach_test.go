package config

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestImportForEach(t *testing.T) {
	src := `
locals {
  ids = toset(["a", "b"])
}
device "d" {
  for_each  = local.ids
  device_id = "dev-${each.key}"
}
device_module "m" {
  count     = 2
  device_id = "dev-a"
  module_id = "m${count.index}"
}
import {
  for_each = local.ids
  to       = device.d[each.key]
  id       = "dev-${each.key}"
}
import {
  for_each = toset(["0", "1"])
  to       = device_module.m[tonumber(each.key)]
  id       = "dev-a/m${each.key}"
}
`
	cfg, diags := NewLoader(fstest.MapFS{"main.hcl": {Data: []byte(src)}}).Load(nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var got []string
	for _, im := range cfg.Imports {
		got = append(got, im.To.String()+" <- "+im.ID)
	}
	want := []string{`device.d["a"] <- dev-a`, `device.d["b"] <- dev-b`, `device_module.m[0] <- dev-a/m0`, `device_module.m[1] <- dev-a/m1`}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("imports (-want +got):\n%s", d)
	}

	bad := `
device "d" {
  for_each  = toset(["a"])
  device_id = "dev-${each.key}"
}
import {
  for_each = toset(["a"])
  to       = device.d[each.key]
  id       = "other-${each.key}"
}
`
	_, diags = NewLoader(fstest.MapFS{"main.hcl": {Data: []byte(bad)}}).Load(nil)
	if !diags.HasErrors() || diags[0].Summary != "Import ID does not match the configuration" {
		t.Errorf("mismatched import ID: diagnostics %v", diags)
	}
}
