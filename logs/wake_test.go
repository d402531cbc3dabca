package logs

import (
	"os"
	"testing"
	"time"
)

// TestQuietPipeWakesItsPump: a line written into a pipe that has been
// quiet (its pump parked in the poller) is read at once, whatever the
// moment it comes.
func TestQuietPipeWakesItsPump(t *testing.T) {
	for i := range 100 {
		l := Memory()
		r, w, _ := os.Pipe()
		done, _ := l.Take(r, 1)
		time.Sleep(time.Duration(i%7) * 300 * time.Microsecond)
		w.WriteString("x\n")
		deadline := time.Now().Add(2 * time.Second)
		for l.Last(1) != "x" {
			if time.Now().After(deadline) {
				t.Fatalf("iteration %d: line never read", i)
			}
			time.Sleep(100 * time.Microsecond)
		}
		w.Close()
		<-done
	}
}
