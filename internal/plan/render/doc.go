// Package render draws a plan.Plan: for people in a terminal (Human,
// HumanWith: Terraform's "+ ~ - -/+" style), for reviewers in a pull
// request (Markdown), and for programs (JSON, the versioned format of
// `plan -json`, documented in docs/json-format.md and described by
// docs/plan.schema.json).
//
// Human and Markdown draw equal changes of many instances of one resource
// block as one entry ("1,200 × device.sensor[*] will be updated in place,
// all the same way"); Options turns that off. JSON always lists every
// change.
//
// The package never computes a change; it only shows what the plan holds.
// It never shows a secret: keys are never drawn, and sensitive values are
// drawn as (sensitive value). Output is deterministic: sorted, without
// timestamps or colors.
package render
