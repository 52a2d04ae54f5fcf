# A small fleet of thermostats on the embedded local hub.
#
#   iotplan init      # creates the embedded hub in .iotplan/
#   iotplan plan      # shows what would change
#   iotplan apply     # makes it so, and records it in iotplan.state

variable "telemetry_interval" {
  description = "Seconds between two telemetry messages."
  type        = number
  default     = 10
}

locals {
  fleet = { for d in csvdecode(file("fleet.csv")) : d.id => d }
}

device "thermostat" {
  for_each  = local.fleet
  device_id = "thermo-${each.key}"
  tags = {
    site  = each.value.site
    floor = tonumber(each.value.floor)
    model = each.value.model
  }
  desired = {
    telemetryInterval = var.telemetry_interval
    thresholds = {
      warning  = 75
      critical = 100
    }
  }
}

device "gateway" {
  for_each      = toset(["berlin", "paris"])
  device_id     = "gw-${each.key}"
  status        = "enabled"
  status_reason = "site gateway"
  tags          = { site = each.key, role = "gateway" }
}
