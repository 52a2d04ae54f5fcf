package server

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/iotplan/iotplan/internal/hub"
)

// route is one endpoint: a method, a path pattern of literal segments and
// parameters ("{id}", "{mid}"), the rights that allow it (any one), and
// its handler.
type route struct {
	method  string
	pattern []string
	rights  []hub.Right
	handle  func(s *Server, w http.ResponseWriter, r *http.Request, p params) error
}

// params are a matched path's parameters, percent-decoded.
type params struct {
	deviceID, moduleID string
}

// routes is the endpoint table. Rights follow the reference's §2.6:
// registry reads need RegistryRead (which RegistryWrite implies), registry
// writes RegistryWrite, twins, methods and service statistics
// ServiceConnect, and queries ServiceConnect or RegistryRead (the
// reference's rule where its sources disagree). Jobs v2 take
// ServiceConnect or RegistryWrite; configurations RegistryRead or
// ServiceConnect to read (testQueries only reads) and RegistryWrite or
// ServiceConnect to write: the reference's rules, its sources being
// silent or at odds. Jobs and configurations bind their ID as {id}.
func routes() []route {
	read := []hub.Right{hub.RegistryRead}
	write := []hub.Right{hub.RegistryWrite}
	service := []hub.Right{hub.ServiceConnect}
	query := []hub.Right{hub.ServiceConnect, hub.RegistryRead}
	jobs := []hub.Right{hub.ServiceConnect, hub.RegistryWrite}
	configRead := []hub.Right{hub.RegistryRead, hub.ServiceConnect}
	configWrite := []hub.Right{hub.RegistryWrite, hub.ServiceConnect}
	p := func(s string) []string { return strings.Split(s, "/") }
	return []route{
		{http.MethodGet, p("devices"), read, (*Server).listDevices},
		{http.MethodPost, p("devices"), write, (*Server).bulkRegistry},
		{http.MethodPost, p("devices/query"), query, (*Server).queryTwins},
		{http.MethodGet, p("devices/{id}"), read, (*Server).getDevice},
		{http.MethodPut, p("devices/{id}"), write, (*Server).putDevice},
		{http.MethodDelete, p("devices/{id}"), write, (*Server).deleteDevice},
		{http.MethodGet, p("devices/{id}/modules"), read, (*Server).listModules},
		{http.MethodGet, p("devices/{id}/modules/{mid}"), read, (*Server).getModule},
		{http.MethodPut, p("devices/{id}/modules/{mid}"), write, (*Server).putModule},
		{http.MethodDelete, p("devices/{id}/modules/{mid}"), write, (*Server).deleteModule},
		{http.MethodGet, p("twins/{id}"), service, (*Server).getTwin},
		{http.MethodPatch, p("twins/{id}"), service, (*Server).patchTwin},
		{http.MethodPut, p("twins/{id}"), service, (*Server).replaceTwin},
		{http.MethodGet, p("twins/{id}/modules/{mid}"), service, (*Server).getTwin},
		{http.MethodPatch, p("twins/{id}/modules/{mid}"), service, (*Server).patchTwin},
		{http.MethodPut, p("twins/{id}/modules/{mid}"), service, (*Server).replaceTwin},
		{http.MethodPost, p("twins/{id}/methods"), service, (*Server).invokeMethod},
		{http.MethodPost, p("twins/{id}/modules/{mid}/methods"), service, (*Server).invokeMethod},
		{http.MethodGet, p("statistics/devices"), read, (*Server).registryStatistics},
		{http.MethodGet, p("statistics/service"), service, (*Server).serviceStatistics},
		{http.MethodGet, p("jobs/v2/query"), jobs, (*Server).queryJobs},
		{http.MethodPut, p("jobs/v2/{id}"), jobs, (*Server).putJob},
		{http.MethodGet, p("jobs/v2/{id}"), jobs, (*Server).getJob},
		{http.MethodPost, p("jobs/v2/{id}/cancel"), jobs, (*Server).cancelJob},
		{http.MethodGet, p("configurations"), configRead, (*Server).listConfigurations},
		{http.MethodPost, p("configurations/testQueries"), configRead, (*Server).testConfigurationQueries},
		{http.MethodGet, p("configurations/{id}"), configRead, (*Server).getConfiguration},
		{http.MethodPut, p("configurations/{id}"), configWrite, (*Server).putConfiguration},
		{http.MethodDelete, p("configurations/{id}"), configWrite, (*Server).deleteConfiguration},
	}
}

// match finds the route of a request. Path segments are percent-decoded
// one by one, so an ID may hold '/', '?', '#', '%' or '+' (which stays a
// plus). One trailing '/' is ignored: the Node SDK lists devices with GET
// /devices/. A path that matches a pattern under another method is 405;
// one that matches none is 404.
func (s *Server) match(w http.ResponseWriter, r *http.Request) (*route, params, error) {
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	raw = strings.TrimSuffix(raw, "/")
	segs := strings.Split(raw, "/")
	for i, seg := range segs {
		v, err := url.PathUnescape(seg)
		if err != nil {
			return nil, params{}, hub.Errorf(hub.CodeArgumentInvalid, "the path holds an invalid percent-encoding in segment %d", i+1)
		}
		segs[i] = v
	}
	var allowed []string
	for i := range s.routes {
		rt := &s.routes[i]
		p, ok := rt.bind(segs)
		if !ok {
			continue
		}
		if rt.method == r.Method {
			return rt, p, nil
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		sort.Strings(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return nil, params{}, hub.Errorf(hub.CodeGenericMethodNotAllowed, "%s is not allowed here; this path accepts %s",
			safeText(r.Method, 16), strings.Join(allowed, ", "))
	}
	return nil, params{}, hub.Errorf(hub.CodeGenericNotFound,
		"no endpoint at %s; this hub serves the registry (/devices), twins (/twins), queries (/devices/query), direct methods, statistics (/statistics), jobs (/jobs/v2) and configurations (/configurations)",
		safeText(r.URL.Path, 200))
}

// bind matches path segments against the pattern. A literal segment beats
// a parameter: POST /devices/query is the query, GET /devices/query the
// device named "query".
func (rt *route) bind(segs []string) (params, bool) {
	if len(segs) != len(rt.pattern) {
		return params{}, false
	}
	var p params
	for i, want := range rt.pattern {
		switch want {
		case "{id}":
			if segs[i] == "" {
				return params{}, false
			}
			p.deviceID = segs[i]
		case "{mid}":
			if segs[i] == "" {
				return params{}, false
			}
			p.moduleID = segs[i]
		default:
			if segs[i] != want {
				return params{}, false
			}
		}
	}
	return p, true
}
