// Package statuspage is the manager's live status page: GET / on the
// metrics address answers a page (HTML, CSS and JS embedded in the binary;
// no build step, nothing fetched from elsewhere) that shows every port
// with its state, pid, uptime, restarts, memory and CPU, small charts of
// the last minutes, and a rollout in progress with its steps. The page
// polls GET /status.json once a second and redraws in place.
//
// It is read-only: no route changes anything, and what it shows is a
// whitelist of the status fields (no environment, no command line, no
// last error text, which can quote an app's output).
package statuspage

import (
	"bytes"
	"embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hellomgr/hellomgr/control"
)

//go:embed assets
var assets embed.FS

// Source is what the page reads: the status report `hellomgr status`
// shows, and the manager's rollout counts.
type Source interface {
	Report() control.Report
	RolloutCounts() Rollouts
}

// Rollouts counts the manager's rollouts (reloads), as its metrics do.
type Rollouts struct {
	Started, Succeeded, Failed uint64
	// LastDuration is how long the last finished rollout took.
	LastDuration time.Duration
}

// Mount adds the page's routes to mux: GET / (the page), GET
// /status.json (what it polls) and GET /statuspage/ (its script and
// style).
func Mount(mux *http.ServeMux, src Source) {
	p := &page{src: src, rollouts: newTracker()}
	mux.HandleFunc("GET /{$}", p.index)
	mux.HandleFunc("GET /status.json", p.status)
	mux.Handle("GET /statuspage/", http.StripPrefix("/statuspage/", http.HandlerFunc(p.asset)))
}

type page struct {
	src      Source
	rollouts *tracker
}

// securityHeaders keep the page to itself: nothing loaded from elsewhere,
// no framing, no sniffing.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// index serves the page with the first status in it, as a JSON data
// block (no script runs from it: the policy allows none inline), so that
// the first render needs no second request.
func (p *page) index(w http.ResponseWriter, r *http.Request) {
	initial, err := json.Marshal(p.view(time.Now()))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// json.Marshal escapes <, > and &, so the data cannot end the block.
	block := append(append([]byte(`<script type="application/json" id="initial">`), initial...), "</script>"...)
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(bytes.Replace(indexHTML, []byte("<!--INITIAL-->"), block, 1))
}

// indexHTML is the page, with <!--INITIAL--> where the first status goes.
var indexHTML = func() []byte {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil || !bytes.Contains(b, []byte("<!--INITIAL-->")) {
		panic("statuspage: assets/index.html is missing or has no <!--INITIAL-->")
	}
	return b
}()

// assetTypes are the files GET /statuspage/ serves, and their types.
var assetTypes = map[string]string{
	"page.js":  "text/javascript; charset=utf-8",
	"page.css": "text/css; charset=utf-8",
}

func (p *page) asset(w http.ResponseWriter, r *http.Request) {
	kind, ok := assetTypes[r.URL.Path]
	b, err := assets.ReadFile("assets/" + r.URL.Path)
	if !ok || err != nil {
		http.NotFound(w, r)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", kind)
	w.Write(b)
}

func (p *page) status(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(p.view(time.Now()))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// view is what the page shows now.
func (p *page) view(now time.Time) view {
	report := p.src.Report()
	v := view{
		Time:     now.UnixMilli(),
		Manager:  managerView{PID: report.PID, Version: report.Version, Upgrades: report.Upgrades},
		Ports:    make([]portView, len(report.Instances)),
		Rollouts: p.rollouts.observe(now, report.Instances, p.src.RolloutCounts()),
	}
	for i, in := range report.Instances {
		v.Ports[i] = newPortView(in)
	}
	return v
}
