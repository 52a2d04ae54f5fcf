package main

// stepKind says what a step measures.
type stepKind int

const (
	// command: an iotplan process, timed from outside: wall and CPU
	// seconds, peak RSS.
	command stepKind = iota
	// inProcess: code the bench command runs itself, wall seconds.
	inProcess
	// size: a file's size in bytes.
	size
	// rss: another process's peak RSS in bytes.
	rss
	// ratio: one step's time over another's, in the same run.
	ratio
)

// stepDef is one figure measured at every fleet size.
type stepDef struct {
	key, name string
	kind      stepKind
	// target is the figure's target for 100,000 devices (plus 20,000
	// modules) on a 2-core machine.
	target string
	// num and den are the keys a ratio divides, from the same run.
	num, den string
}

// steps are the figures in the order they are measured and shown.
var steps = []stepDef{
	{key: "apply_create", name: "apply: create all", kind: command, target: "≤ 60 s; RSS ≤ 1 GiB"},
	{key: "state_bytes", name: "state file size", kind: size},
	{key: "hubdb_bytes", name: "hub database size", kind: size},
	{key: "state_load", name: "state file load (in-process)", kind: inProcess, target: "≤ 0.5 s"},
	{key: "state_save", name: "state file save (in-process)", kind: inProcess, target: "≤ 0.5 s"},
	{key: "plan_nochange", name: "plan: no changes, embedded hub", kind: command, target: "≤ 3 s"},
	{key: "refresh_paged", name: "refresh: paged query, embedded (in-process)", kind: inProcess},
	{key: "refresh_naive", name: "refresh: naive GET per twin ×10, embedded", kind: inProcess},
	{key: "ratio_plan_naive", name: "plan no changes ÷ naive refresh, embedded", kind: ratio,
		num: "plan_nochange", den: "refresh_naive", target: "≤ 0.05 (20× faster)"},
	{key: "ratio_paged_naive", name: "paged refresh ÷ naive refresh, embedded", kind: ratio,
		num: "refresh_paged", den: "refresh_naive"},
	{key: "plan_nochange_rest", name: "plan: no changes, hub serve (REST)", kind: command, target: "≤ 6 s"},
	{key: "refresh_paged_rest", name: "refresh: paged query, REST (in-process)", kind: inProcess},
	{key: "refresh_naive_rest", name: "refresh: naive GET per twin ×10, REST", kind: inProcess},
	{key: "ratio_plan_naive_rest", name: "plan no changes ÷ naive refresh, REST", kind: ratio,
		num: "plan_nochange_rest", den: "refresh_naive_rest", target: "≤ 0.05 (20× faster)"},
	{key: "ratio_paged_naive_rest", name: "paged refresh ÷ naive refresh, REST", kind: ratio,
		num: "refresh_paged_rest", den: "refresh_naive_rest"},
	{key: "serve_rss", name: "hub serve peak RSS (during REST steps)", kind: rss},
	{key: "plan_changed", name: "plan: 1% changed in configuration", kind: command},
	{key: "plan_drift", name: "plan: 1% drifted out of band", kind: command},
	{key: "apply_update", name: "apply: update 10%", kind: command},
	{key: "destroy", name: "destroy", kind: command},
}

// runValues are the figures of one run, by step key.
type runValues map[string]value

// value is one step's figures in one run.
type value struct {
	seconds, cpuSeconds float64
	bytes               int64 // size, or peak RSS for command and rss steps
}

// aggregate turns the runs' values into one result per step: the ratio
// steps divide the two figures of each run, then take the median of the
// quotients, so a machine that drifts between runs skews no ratio.
func aggregate(devices int, runs []runValues) []stepResult {
	var out []stepResult
	for _, st := range steps {
		r := stepResult{Key: st.key, Name: st.name, Target: st.target}
		var secs, cpu, bytes, ratios []float64
		for _, rv := range runs {
			if st.kind == ratio {
				n, okN := rv[st.num]
				d, okD := rv[st.den]
				if okN && okD && d.seconds > 0 {
					ratios = append(ratios, n.seconds/d.seconds)
				}
				continue
			}
			v, ok := rv[st.key]
			if !ok {
				continue
			}
			switch st.kind {
			case command:
				secs = append(secs, v.seconds)
				cpu = append(cpu, v.cpuSeconds)
				bytes = append(bytes, float64(v.bytes))
			case inProcess:
				secs = append(secs, v.seconds)
			case size, rss:
				bytes = append(bytes, float64(v.bytes))
			}
		}
		switch st.kind {
		case command:
			r.Seconds, r.CPUSeconds, r.PeakRSSBytes = summarize(secs), summarize(cpu), summarize(bytes)
		case inProcess:
			r.Seconds = summarize(secs)
		case size:
			r.Bytes = summarize(bytes)
		case rss:
			r.PeakRSSBytes = summarize(bytes)
		case ratio:
			r.Ratio = summarize(ratios)
		}
		if r.Seconds != nil && devices > 0 {
			r.MicrosPerDevice = r.Seconds.Median / float64(devices) * 1e6
		}
		if r.Seconds == nil && r.Bytes == nil && r.PeakRSSBytes == nil && r.Ratio == nil {
			continue
		}
		out = append(out, r)
	}
	return out
}
