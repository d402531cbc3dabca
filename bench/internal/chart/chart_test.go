package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRatesShowAnInstanceThatStoppedServing(t *testing.T) {
	var hits []Hit
	for i := range 100 { // 1 s of 100 req/s on both, except b's second half
		at := float64(i) / 100
		hits = append(hits, Hit{At: at, Instance: "a"})
		if at < 0.5 {
			hits = append(hits, Hit{At: at, Instance: "b"})
		}
	}
	r := Rates(hits, 0.25)
	if got := r["a"][3].Y; got != 100 {
		t.Errorf("a in the last window: %v req/s, want 100", got)
	}
	if got := r["b"][3].Y; got != 0 {
		t.Errorf("b in the last window: %v req/s, want 0", got)
	}
}

func TestDrawWritesAPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.png")
	hits := []Hit{{0.1, "127.0.0.1:8001"}, {0.2, "127.0.0.1:8002"}, {0.9, "127.0.0.1:8001"}}
	if err := Draw(path, "test", Rates(hits, 0.1), []Mark{{0.5, "reload"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("chart file: %d bytes, %v; want a PNG", len(b), err)
	}
}
