package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// TestValidation holds one case per rule the configuration is checked
// against: each asserts the diagnostic's summary and where its subject
// starts.
func TestValidation(t *testing.T) {
	const key16 = "MDEyMzQ1Njc4OWFiY2RlZg==" // base64 of 16 bytes
	tests := map[string]struct {
		files map[string]string
		opts  LoadOptions
		want  []diag
	}{
		// Devices.
		"device ID too long": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = join("", [for i in range(129) : "a"])
}`},
			want: []diag{{Summary: "Invalid device ID", File: "main.hcl", Line: 2}},
		},
		"duplicate device ID across count instances": {
			files: map[string]string{"main.hcl": `device "d" {
  count     = 2
  device_id = "same"
}`},
			want: []diag{{Summary: "Duplicate device ID", File: "main.hcl", Line: 3}},
		},
		"misspelt argument": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  staus     = "enabled"
}`},
			want: []diag{{Summary: "Unsupported argument", File: "main.hcl", Line: 3}},
		},
		"edge not a bool": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  edge      = "maybe"
}`},
			want: []diag{{Summary: "Incorrect attribute value type", File: "main.hcl", Line: 3}},
		},
		"invalid parent ID": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  parent    = "gw/1"
}`},
			want: []diag{{Summary: "Invalid parent device ID", File: "main.hcl", Line: 3}},
		},
		"parent not an edge device": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
device "d" {
  device_id = "d"
  parent    = device.gw.device_id
}`},
			want: []diag{{Summary: "Parent is not an edge device", File: "main.hcl", Line: 4}},
		},
		"device is its own parent": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  edge      = true
  parent    = "d"
}`},
			want: []diag{{Summary: "Invalid parent device", File: "main.hcl", Line: 4}},
		},
		"key_version not a whole number": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id   = "d"
  key_version = 1.5
}`},
			want: []diag{{Summary: "Invalid key_version argument", File: "main.hcl", Line: 3}},
		},
		"key_version without SAS": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id   = "d"
  auth        = "x509_ca"
  key_version = 1
}`},
			want: []diag{{Summary: "Invalid key_version", File: "main.hcl", Line: 4}},
		},
		"key_version with explicit keys": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id   = "d"
  key_version = 2
  auth {
    primary_key   = "` + key16 + `"
    secondary_key = "` + key16 + `"
  }
}`},
			want: []diag{{Summary: "Invalid key_version", File: "main.hcl", Line: 3}},
		},

		// Auth.
		"invalid auth type": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth      = "x509"
}`},
			want: []diag{{Summary: "Invalid auth type", File: "main.hcl", Line: 3}},
		},
		"unknown auth argument in an object": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth = {
    type        = "sas"
    primary_kee = "x"
  }
}`},
			want: []diag{{Summary: "Unsupported argument", File: "main.hcl", Line: 5}},
		},
		"unknown auth argument in a block": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth {
    tpye = "sas"
  }
}`},
			want: []diag{{Summary: "Unsupported argument", File: "main.hcl", Line: 4}},
		},
		"auth of the wrong type": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth      = 1
}`},
			want: []diag{{Summary: "Incorrect attribute value type", File: "main.hcl", Line: 3}},
		},
		"invalid SAS key": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth {
    primary_key   = "c2hvcnQ="
    secondary_key = "` + key16 + `"
  }
}`},
			want: []diag{{Summary: "Invalid SAS key", File: "main.hcl", Line: 4}},
		},
		"one SAS key": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth {
    primary_key = "` + key16 + `"
  }
}`},
			want: []diag{{Summary: "Incomplete SAS keys", File: "main.hcl", Line: 3}},
		},
		"invalid thumbprint": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth = {
    type               = "x509_thumbprint"
    primary_thumbprint = "AB:CD"
  }
}`},
			want: []diag{{Summary: "Invalid thumbprint", File: "main.hcl", Line: 5}},
		},
		"missing thumbprint": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth { type = "x509_thumbprint" }
}`},
			want: []diag{{Summary: "Missing thumbprint", File: "main.hcl", Line: 3}},
		},
		"keys with x509": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth {
    type          = "x509_ca"
    primary_key   = "` + key16 + `"
    secondary_key = "` + key16 + `"
  }
}`},
			want: []diag{
				{Summary: "Argument not valid for the auth type", File: "main.hcl", Line: 5},
				{Summary: "Argument not valid for the auth type", File: "main.hcl", Line: 6},
			},
		},
		"auth argument and block": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth      = "sas"
  auth { type = "none" }
}`},
			want: []diag{{Summary: "Duplicate auth", File: "main.hcl", Line: 4}},
		},

		// Lifecycle.
		"ignore_changes of an unknown argument": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  lifecycle {
    ignore_changes = [tags.site, stauts]
  }
}`},
			want: []diag{{Summary: "Invalid ignore_changes path", File: "main.hcl", Line: 4}},
		},
		"ignore_changes of the ID": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  lifecycle {
    ignore_changes = [device_id]
  }
}`},
			want: []diag{{Summary: "Invalid ignore_changes path", File: "main.hcl", Line: 4}},
		},
		"ignore_changes of a list element": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  lifecycle {
    ignore_changes = [desired.list[0]]
  }
}`},
			want: []diag{{Summary: "Invalid ignore_changes path", File: "main.hcl", Line: 4}},
		},
		"ignore_changes of a bad twin key": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  lifecycle {
    ignore_changes = [tags["a b"]]
  }
}`},
			want: []diag{{Summary: "Invalid ignore_changes path", File: "main.hcl", Line: 4}},
		},
		"prevent_destroy not a bool": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  lifecycle {
    prevent_destroy = "yes"
  }
}`},
			want: []diag{{Summary: "Incorrect attribute value type", File: "main.hcl", Line: 4}},
		},
		"prevent_destroy from a variable": {
			files: map[string]string{"main.hcl": `variable "keep" { default = true }
device "d" {
  device_id = "d"
  lifecycle {
    prevent_destroy = var.keep
  }
}`},
			want: []diag{{Summary: "Variables not allowed", File: "main.hcl", Line: 5}},
		},
		"two lifecycle blocks": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  lifecycle {}
  lifecycle {}
}`},
			want: []diag{{Summary: "Duplicate lifecycle block", File: "main.hcl", Line: 4}},
		},

		// depends_on.
		"depends_on an undeclared resource": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id  = "d"
  depends_on = [device.gw]
}`},
			want: []diag{{Summary: "Reference to undeclared resource", File: "main.hcl", Line: 3}},
		},
		"depends_on a variable": {
			files: map[string]string{"main.hcl": `variable "x" { default = 1 }
device "d" {
  device_id  = "d"
  depends_on = [var.x]
}`},
			want: []diag{{Summary: "Invalid depends_on reference", File: "main.hcl", Line: 4}},
		},
		"depends_on an undeclared instance": {
			files: map[string]string{"main.hcl": `device "gw" {
  for_each  = toset(["a"])
  device_id = each.key
}
device "d" {
  device_id  = "d"
  depends_on = [device.gw["b"]]
}`},
			want: []diag{{Summary: "Reference to undeclared resource instance", File: "main.hcl", Line: 7}},
		},

		// count and for_each.
		"count and for_each": {
			files: map[string]string{"main.hcl": `device "d" {
  for_each  = toset(["a"])
  count     = 1
  device_id = "d"
}`},
			want: []diag{{Summary: `Invalid combination of "count" and "for_each"`, File: "main.hcl", Line: 3}},
		},
		"negative count": {
			files: map[string]string{"main.hcl": `device "d" {
  count     = -1
  device_id = "d"
}`},
			want: []diag{{Summary: "Invalid count argument", File: "main.hcl", Line: 2}},
		},
		"count not a number": {
			files: map[string]string{"main.hcl": `device "d" {
  count     = "many"
  device_id = "d"
}`},
			want: []diag{{Summary: "Incorrect attribute value type", File: "main.hcl", Line: 2}},
		},
		"null count": {
			files: map[string]string{"main.hcl": `device "d" {
  count     = null
  device_id = "d"
}`},
			want: []diag{{Summary: "Invalid count argument", File: "main.hcl", Line: 2}},
		},
		"count.index without count": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d-${count.index}"
}`},
			want: []diag{{Summary: `Invalid reference to "count"`, File: "main.hcl", Line: 2}},
		},
		"sensitive for_each": {
			files: map[string]string{"main.hcl": `variable "ids" {
  type      = set(string)
  default   = ["a"]
  sensitive = true
}
device "d" {
  for_each  = var.ids
  device_id = each.key
}`},
			want: []diag{{Summary: "Invalid for_each argument", File: "main.hcl", Line: 7}},
		},

		// References between resources.
		"undeclared resource": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
device "d" {
  device_id = "${device.gww.device_id}-d"
}`},
			want: []diag{{Summary: "Reference to undeclared resource", File: "main.hcl", Line: 3}},
		},
		"attribute of a block with for_each": {
			files: map[string]string{"main.hcl": `device "gw" {
  for_each  = toset(["a"])
  device_id = each.key
}
device "d" {
  device_id = "${device.gw.device_id}-d"
}`},
			want: []diag{{Summary: "Missing resource instance key", File: "main.hcl", Line: 6}},
		},
		"key of a block without count or for_each": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
device "d" {
  device_id = "${device.gw[0].device_id}-d"
}`},
			want: []diag{{Summary: "Unexpected resource instance key", File: "main.hcl", Line: 3}},
		},
		"misspelt resource attribute": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
device "d" {
  device_id = "${device.gw.devce_id}-d"
}`},
			want: []diag{{Summary: "Unsupported attribute", File: "main.hcl", Line: 3}},
		},
		"key only the hub knows in an ID": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
device "d" {
  device_id = substr(device.gw.primary_key, 0, 8)
}`},
			want: []diag{{Summary: "Value known only after apply", File: "main.hcl", Line: 3}},
		},
		"generation ID in desired, through a local": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
locals { gen = device.gw.generation_id }
device "d" {
  device_id = "d"
  desired   = { gw = local.gen }
}`},
			want: []diag{{Summary: "Value known only after apply", File: "main.hcl", Line: 5}},
		},
		"for_each over a set of keys only the hub knows": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
device "d" {
  for_each  = toset([device.gw.generation_id])
  device_id = each.key
}`},
			want: []diag{{Summary: "Value known only after apply", File: "main.hcl", Line: 3}},
		},
		"block that refers to itself": {
			files: map[string]string{"main.hcl": `device "d" {
  for_each  = toset(["a", "b"])
  device_id = each.key
  tags      = { other = device.d["a"].device_id }
}`},
			want: []diag{{Summary: "Self-referential block", File: "main.hcl", Line: 1}},
		},
		"blocks that refer to each other": {
			files: map[string]string{"main.hcl": `device "a" {
  device_id = "a"
  tags      = { peer = local.b }
}
locals { b = device.b.device_id }
device "b" {
  device_id = "b"
  tags      = { peer = device.a.device_id }
}`},
			want: []diag{{Summary: "Dependency cycle", File: "main.hcl", Line: 1}},
		},
		"edge devices that are each other's parent": {
			files: map[string]string{"main.hcl": `device "a" {
  device_id = "a"
  edge      = true
  parent    = "b"
}
device "b" {
  device_id = "b"
  edge      = true
  parent    = "a"
}`},
			want: []diag{{Summary: "Dependency cycle", File: "main.hcl", Line: 1}},
		},
		"resource in the hub block": {
			files: map[string]string{"main.hcl": `device "d" { device_id = "d" }
hub {
  connection_string = device.d.connection_string
}`},
			want: []diag{{Summary: "Invalid reference", File: "main.hcl", Line: 3}},
		},

		// Modules.
		"invalid module ID": {
			files: map[string]string{"main.hcl": `device_module "m" {
  device_id = "d"
  module_id = "temp sensor"
}`},
			want: []diag{{Summary: "Invalid module ID", File: "main.hcl", Line: 3}},
		},
		"system module": {
			files: map[string]string{"main.hcl": `device_module "m" {
  device_id = "d"
  module_id = "$edgeAgent"
}`},
			want: []diag{{Summary: "Invalid module ID", File: "main.hcl", Line: 3}},
		},
		"invalid device ID of a module": {
			files: map[string]string{"main.hcl": `device_module "m" {
  device_id = "d#1/x"
  module_id = "m"
}`},
			want: []diag{{Summary: "Invalid device ID", File: "main.hcl", Line: 2}},
		},
		"missing module_id": {
			files: map[string]string{"main.hcl": `device_module "m" {
  device_id = "d"
}`},
			want: []diag{{Summary: "Missing required argument", File: "main.hcl", Line: 1}},
		},
		"duplicate module ID across blocks": {
			files: map[string]string{"main.hcl": `device_module "a" {
  device_id = "d"
  module_id = "m"
}
device_module "b" {
  device_id = "d"
  module_id = "m"
}`},
			want: []diag{{Summary: "Duplicate module ID", File: "main.hcl", Line: 7}},
		},
		"duplicate module ID across instances": {
			files: map[string]string{"main.hcl": `device_module "a" {
  for_each  = toset(["x", "y"])
  device_id = "d"
  module_id = "m"
}`},
			want: []diag{{Summary: "Duplicate module ID", File: "main.hcl", Line: 4}},
		},
		"51 modules on a device in one block": {
			files: map[string]string{"main.hcl": `device_module "m" {
  count     = 51
  device_id = "gw"
  module_id = "mod-${count.index}"
}`},
			want: []diag{{Summary: "Too many modules on a device", File: "main.hcl", Line: 4}},
		},
		"51 modules on a device across blocks": {
			files: map[string]string{
				"a.hcl": `device_module "a" {
  for_each  = toset([for i in range(50) : "a${i}"])
  device_id = "gw"
  module_id = each.key
}`,
				"b.hcl": `device_module "b" {
  device_id = "gw"

  module_id = "b"
}`,
			},
			want: []diag{{Summary: "Too many modules on a device", File: "b.hcl", Line: 4}},
		},

		// Twins.
		"twin key with a space": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  tags      = { "a b" = 1 }
}`},
			want: []diag{{Summary: "Invalid twin property", File: "main.hcl", Line: 3}},
		},
		"twin key with a control character": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  desired   = { "a\tb" = 1 }
}`},
			want: []diag{{Summary: "Invalid twin property", File: "main.hcl", Line: 3}},
		},
		"twin key too long": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  desired   = { (join("", [for i in range(205) : "kkkkk"])) = 1 }
}`},
			want: []diag{{Summary: "Invalid twin property", File: "main.hcl", Line: 3}},
		},
		"twin too deep": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  desired   = { a = { b = { c = { d = { e = { f = { g = { h = { i = { j = { k = { l = 1 } } } } } } } } } } } }
}`},
			want: []diag{{Summary: "Invalid twin property", File: "main.hcl", Line: 3}},
		},
		"tags too large": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  tags      = { for i in range(3) : "k${i}" => join("", [for j in range(300) : "xxxxxxxxxx"]) }
}`},
			want: []diag{{Summary: "Twin section too large", File: "main.hcl", Line: 3}},
		},
		"desired too large": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  desired   = { for i in range(9) : "k${i}" => join("", [for j in range(400) : "xxxxxxxxxx"]) }
}`},
			want: []diag{{Summary: "Twin section too large", File: "main.hcl", Line: 3}},
		},
		"twin string too long": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  desired   = { s = join("", [for j in range(410) : "xxxxxxxxxx"]) }
}`},
			want: []diag{{Summary: "Invalid twin property", File: "main.hcl", Line: 3}},
		},
		"twin integer out of range": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  desired   = { n = 4503599627370496 }
}`},
			want: []diag{{Summary: "Invalid twin property", File: "main.hcl", Line: 3}},
		},
		"module twin key with a dollar": {
			files: map[string]string{"main.hcl": `device_module "m" {
  device_id = "d"
  module_id = "m"
  desired   = { "$version" = 1 }
}`},
			want: []diag{{Summary: "Invalid twin property", File: "main.hcl", Line: 4}},
		},

		// Variables.
		"failed variable validation": {
			files: map[string]string{"main.hcl": `variable "n" {
  type = number
  validation {
    condition     = var.n < 10
    error_message = "n must be under 10."
  }
}`},
			opts: LoadOptions{Vars: []VarOption{{Name: "n", Value: "12"}}},
			want: []diag{{Summary: "Invalid value for variable", File: "<value for var.n>", Line: 1}},
		},
		"failed validation of a default": {
			files: map[string]string{"main.hcl": `variable "site" {
  default = "Berlin"
  validation {
    condition     = lower(var.site) == var.site
    error_message = "The site is written in lower case."
  }
}`},
			want: []diag{{Summary: "Invalid value for variable", File: "main.hcl", Line: 2}},
		},
		"failed validation of a file value": {
			files: map[string]string{
				"main.hcl": `variable "n" {
  validation {
    condition     = length(var.n) < 3
    error_message = "Too long."
  }
}`,
				"iotplan.iotvars": "\nn = \"abcd\"\n",
			},
			want: []diag{{Summary: "Invalid value for variable", File: "iotplan.iotvars", Line: 2}},
		},
		"validation condition without the variable": {
			files: map[string]string{"main.hcl": `variable "n" {
  default = 1
  validation {
    condition     = true
    error_message = "Never."
  }
}`},
			want: []diag{{Summary: "Invalid variable validation condition", File: "main.hcl", Line: 4}},
		},
		"null for a variable that is not nullable": {
			files: map[string]string{"main.hcl": `variable "n" {
  nullable = false
}`},
			opts: LoadOptions{Vars: []VarOption{{File: "x.iotvars", Src: []byte("n = null\n")}}},
			want: []diag{{Summary: "Invalid value for variable", File: "x.iotvars", Line: 1}},
		},
		"variables file with a syntax error": {
			files: map[string]string{
				"main.hcl":          `variable "n" { default = 1 }`,
				"prod.auto.iotvars": "n = \n",
			},
			want: []diag{{Summary: "Invalid expression", File: "prod.auto.iotvars", Line: 1}},
		},
		"variables file with a block": {
			files: map[string]string{
				"main.hcl":        `variable "n" { default = 1 }`,
				"iotplan.iotvars": "n = 2\nblock {}\n",
			},
			want: []diag{{Summary: "Unexpected \"block\" block", File: "iotplan.iotvars", Line: 2}},
		},
		"variables file with a reference": {
			files: map[string]string{
				"main.hcl":        `variable "n" { default = 1 }`,
				"iotplan.iotvars": "n = var.m\n",
			},
			want: []diag{{Summary: "Variables not allowed", File: "iotplan.iotvars", Line: 1}},
		},
		"missing -var-file": {
			files: map[string]string{"main.hcl": `variable "n" { default = 1 }`},
			opts:  LoadOptions{Vars: []VarOption{{File: "prod.iotvars"}}},
			want:  []diag{{Summary: "Cannot read variables file"}},
		},
		"value of the wrong type in a file": {
			files: map[string]string{
				"main.hcl":        `variable "n" { type = number }`,
				"iotplan.iotvars": "n = [1]\n",
			},
			want: []diag{{Summary: "Invalid value for variable", File: "iotplan.iotvars", Line: 1}},
		},
		"unset environment variable": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = env("FLEET_PREFIX")
}`},
			want: []diag{{Summary: "Invalid function argument", File: "main.hcl", Line: 2}},
		},

		// Outputs.
		"sensitive output not declared sensitive": {
			files: map[string]string{"main.hcl": `device "d" { device_id = "d" }
output "key" {
  value = device.d.primary_key
}`},
			want: []diag{{Summary: "Output refers to sensitive values", File: "main.hcl", Line: 3}},
		},
		"duplicate output": {
			files: map[string]string{"main.hcl": `output "a" { value = 1 }
output "a" { value = 2 }`},
			want: []diag{{Summary: "Duplicate output", File: "main.hcl", Line: 2}},
		},
		"output without a value": {
			files: map[string]string{"main.hcl": `output "a" {
  description = "nothing"
}`},
			want: []diag{{Summary: "Missing required argument", File: "main.hcl", Line: 1}},
		},

		// moved.
		"move to another type": {
			files: map[string]string{"main.hcl": `device_module "b" {
  device_id = "d"
  module_id = "m"
}
moved {
  from = device.a
  to   = device_module.b
}`},
			want: []diag{{Summary: "Resource type mismatch", File: "main.hcl", Line: 5}},
		},
		"move from a block still declared": {
			files: map[string]string{"main.hcl": `device "a" { device_id = "a" }
device "b" { device_id = "b" }
moved {
  from = device.a
  to   = device.b
}`},
			want: []diag{{Summary: "Moved object still declared", File: "main.hcl", Line: 3}},
		},
		"move from an instance still declared": {
			files: map[string]string{"main.hcl": `device "a" {
  for_each  = toset(["x", "y"])
  device_id = each.key
}
moved {
  from = device.a["x"]
  to   = device.a["y"]
}`},
			want: []diag{{Summary: "Moved object still declared", File: "main.hcl", Line: 5}},
		},
		"one address moved twice": {
			files: map[string]string{"main.hcl": `device "b" { device_id = "b" }
device "c" { device_id = "c" }
moved {
  from = device.a
  to   = device.b
}
moved {
  from = device.a
  to   = device.c
}`},
			want: []diag{{Summary: "Ambiguous move statements", File: "main.hcl", Line: 7}},
		},
		"two addresses moved to one": {
			files: map[string]string{"main.hcl": `device "c" { device_id = "c" }
moved {
  from = device.a
  to   = device.c
}
moved {
  from = device.b
  to   = device.c
}`},
			want: []diag{{Summary: "Ambiguous move statements", File: "main.hcl", Line: 6}},
		},
		"moves in a loop": {
			files: map[string]string{"main.hcl": `moved {
  from = device.a
  to   = device.b
}
moved {
  from = device.b
  to   = device.a
}`},
			want: []diag{{Summary: "Cyclic dependency in move statements", File: "main.hcl", Line: 1}},
		},
		"move written as a string": {
			files: map[string]string{"main.hcl": `moved {
  from = "device.a"
  to   = device.b
}`},
			want: []diag{{Summary: "Invalid address", File: "main.hcl", Line: 2}},
		},
		"move to itself": {
			files: map[string]string{"main.hcl": `moved {
  from = device.a["x"]
  to   = device.a["x"]
}`},
			want: []diag{{Summary: "Redundant moved block", File: "main.hcl", Line: 1}},
		},
		"move of a variable": {
			files: map[string]string{"main.hcl": `moved {
  from = var.a
  to   = device.b
}`},
			want: []diag{{Summary: "Invalid address", File: "main.hcl", Line: 2}},
		},

		// import.
		"import into an undeclared block": {
			files: map[string]string{"main.hcl": `import {
  to = device.x
  id = "x"
}`},
			want: []diag{{Summary: "Import target not declared", File: "main.hcl", Line: 2}},
		},
		"import into an undeclared instance": {
			files: map[string]string{"main.hcl": `device "x" {
  for_each  = toset(["a"])
  device_id = each.key
}
import {
  to = device.x["b"]
  id = "b"
}`},
			want: []diag{{Summary: "Import target not declared", File: "main.hcl", Line: 6}},
		},
		"import into a block with for_each": {
			files: map[string]string{"main.hcl": `device "x" {
  for_each  = toset(["a"])
  device_id = each.key
}
import {
  to = device.x
  id = "a"
}`},
			want: []diag{{Summary: "Import target is not an instance", File: "main.hcl", Line: 6}},
		},
		"invalid import ID": {
			files: map[string]string{"main.hcl": `device "x" { device_id = "x y" }
import {
  to = device.x
  id = "x y"
}`},
			want: []diag{
				{Summary: "Invalid device ID", File: "main.hcl", Line: 1},
				{Summary: "Invalid import ID", File: "main.hcl", Line: 4},
			},
		},
		"module import ID without a slash": {
			files: map[string]string{"main.hcl": `device_module "m" {
  device_id = "d"
  module_id = "m"
}
import {
  to = device_module.m
  id = "m"
}`},
			want: []diag{{Summary: "Invalid import ID", File: "main.hcl", Line: 7}},
		},
		"import ID that does not match": {
			files: map[string]string{"main.hcl": `device "x" { device_id = "x" }
import {
  to = device.x
  id = "y"
}`},
			want: []diag{{Summary: "Import ID does not match the configuration", File: "main.hcl", Line: 4}},
		},
		"two imports into one instance": {
			files: map[string]string{"main.hcl": `device "x" { device_id = "x" }
import {
  to = device.x
  id = "x"
}
import {
  to = device.x
  id = "x"
}`},
			want: []diag{{Summary: "Duplicate import", File: "main.hcl", Line: 6}},
		},

		// Settings.
		"invalid hub tier": {
			files: map[string]string{"main.hcl": `hub {
  connection_string = "HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=` + key16 + `"
  tier              = "S4"
}`},
			want: []diag{{Summary: "Invalid hub tier", File: "main.hcl", Line: 3}},
		},
		"no hub units": {
			files: map[string]string{"main.hcl": `hub {
  connection_string = "HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=` + key16 + `"
  units             = 0
}`},
			want: []diag{{Summary: "Invalid hub units", File: "main.hcl", Line: 3}},
		},
		"device connection string for the hub": {
			files: map[string]string{"main.hcl": `hub {
  connection_string = "HostName=h;DeviceId=d;SharedAccessKey=` + key16 + `"
}`},
			want: []diag{{Summary: "Invalid connection string", File: "main.hcl", Line: 2}},
		},
		"two hub blocks": {
			files: map[string]string{"main.hcl": `hub { connection_string = "HostName=h;SharedAccessKeyName=o;SharedAccessKey=` + key16 + `" }
hub { connection_string = "HostName=h;SharedAccessKeyName=o;SharedAccessKey=` + key16 + `" }`},
			want: []diag{{Summary: "Duplicate hub block", File: "main.hcl", Line: 2}},
		},
		"unknown backend": {
			files: map[string]string{"main.hcl": `iotplan {
  backend "s3" {}
}`},
			want: []diag{{Summary: "Unknown backend type", File: "main.hcl", Line: 2}},
		},
		"two backends": {
			files: map[string]string{"main.hcl": `iotplan {
  backend "local" {}
  backend "pg" { conn_str = "postgres://x" }
}`},
			want: []diag{{Summary: "Duplicate backend block", File: "main.hcl", Line: 3}},
		},
		"pg backend without a connection string": {
			files: map[string]string{"main.hcl": `iotplan {
  backend "pg" {}
}`},
			want: []diag{{Summary: "Missing required argument", File: "main.hcl", Line: 2}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := NewLoader(folder(tt.files)).LoadWith(tt.opts)
			if d := cmp.Diff(tt.want, diagsOf(diags)); d != "" {
				t.Errorf("Load() diagnostics mismatch (-want +got):\n%s\nall: %v", d, diags)
			}
		})
	}
}

// TestValidationDetails checks what details must name, without fixing
// their wording: the rule broken, the suggestion, the instance.
func TestValidationDetails(t *testing.T) {
	tests := map[string]struct {
		files    map[string]string
		mentions []string
	}{
		"did you mean a status": {
			files:    map[string]string{"main.hcl": `device "d" {` + "\n" + `  device_id = "d"` + "\n" + `  status = "enable"` + "\n}"},
			mentions: []string{`Did you mean "enabled"?`},
		},
		"did you mean an argument": {
			files:    map[string]string{"main.hcl": `device "d" {` + "\n" + `  device_id = "d"` + "\n" + `  staus = "enabled"` + "\n}"},
			mentions: []string{`Did you mean "status"?`},
		},
		"did you mean a resource attribute": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
device "d" { device_id = "${device.gw.devce_id}-d" }`},
			mentions: []string{`Did you mean "device_id"?`},
		},
		"did you mean a resource": {
			files: map[string]string{"main.hcl": `device "gateway" { device_id = "gw" }
device "d" { device_id = "${device.gatway.device_id}-d" }`},
			mentions: []string{`Did you mean "gateway"?`},
		},
		"did you mean an auth type": {
			files:    map[string]string{"main.hcl": `device "d" {` + "\n" + `  device_id = "d"` + "\n" + `  auth = "x509_cа"` + "\n}"},
			mentions: []string{`Did you mean "x509_ca"?`},
		},
		"the device and the 51st module": {
			files: map[string]string{"main.hcl": `device_module "m" {
  count     = 53
  device_id = "gw-7"
  module_id = "mod-${count.index}"
}`},
			mentions: []string{`"gw-7"`, "53", "50", `device_module.m[50]`},
		},
		"the attribute only the hub knows": {
			files: map[string]string{"main.hcl": `device "gw" { device_id = "gw" }
device "d" { device_id = device.gw.primary_key }`},
			mentions: []string{"device.gw.primary_key", "after apply"},
		},
		"the members of a cycle": {
			files: map[string]string{"main.hcl": `device "a" {
  device_id = "a"
  tags      = { peer = device.b.device_id }
}
device "b" {
  device_id = "b"
  tags      = { peer = device.a.device_id }
}`},
			mentions: []string{"device.a", "device.b"},
		},
		"the variable of an unset environment variable": {
			files:    map[string]string{"main.hcl": `locals { cs = env("IOTHUB_CONNECTION_STRING") }`},
			mentions: []string{"IOTHUB_CONNECTION_STRING"},
		},
		"the validation's error message": {
			files: map[string]string{"main.hcl": `variable "n" {
  default = 11
  validation {
    condition     = var.n < 10
    error_message = "Keep n under 10."
  }
}`},
			mentions: []string{"Keep n under 10.", "main.hcl:3"},
		},
		"a key never shows": {
			files: map[string]string{"main.hcl": `device "d" {
  device_id = "d"
  auth {
    primary_key   = "dG9vLXNob3J0"
    secondary_key = "dG9vLXNob3J0"
  }
}`},
			mentions: []string{"decodes to 9 bytes"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := NewLoader(folder(tt.files)).Load(nil)
			if !diags.HasErrors() {
				t.Fatalf("Load() = no errors")
			}
			var all []string
			for _, d := range diags {
				all = append(all, d.Detail)
			}
			text := strings.Join(all, "\n")
			for _, m := range tt.mentions {
				if !strings.Contains(text, m) {
					t.Errorf("details do not mention %q:\n%s", m, text)
				}
			}
			if strings.Contains(text, "dG9vLXNob3J0") {
				t.Errorf("details show a key:\n%s", text)
			}
		})
	}
}

// TestRenderedDiagnosticsHideSecrets renders diagnostics with their source
// snippets and the values they refer to, as the CLI does, and checks that
// no key or sensitive value shows.
func TestRenderedDiagnosticsHideSecrets(t *testing.T) {
	src := `variable "short" { default = "dG9vLXNob3J0" }
variable "secret" {
  default   = "s3cr3t-value"
  sensitive = true
}
device "d" {
  device_id = "d"
  auth {
    primary_key   = var.short
    secondary_key = var.short
  }
}
device "e" {
  device_id = "e"
  status    = var.secret
  desired   = { "bad key" = var.secret }
}`
	l := NewLoader(folder(map[string]string{"main.hcl": src}))
	_, diags := l.Load(nil)
	if !diags.HasErrors() {
		t.Fatal("Load() = no errors")
	}
	var buf strings.Builder
	if err := hcl.NewDiagnosticTextWriter(&buf, l.Files(), 100, false).WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, body := range []string{`var.short as`, `"s3cr3t-value"`, `as "dG9v`} {
		if strings.Contains(out, body) {
			t.Errorf("rendered diagnostics show %s:\n%s", body, out)
		}
	}
}
