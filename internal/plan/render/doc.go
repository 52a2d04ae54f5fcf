// Package render draws a plan.Plan for people (Terraform's "+ ~ - -/+"
// style) and for programs (the versioned JSON of `plan -json`). It never
// computes a change; it only shows what the plan holds, and it never shows a
// secret, since a plan holds none.
package render
