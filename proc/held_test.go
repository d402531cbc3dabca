package proc

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"testing"
)

func startChild(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitExec(t, cmd.Process.Pid)
	return cmd
}

// A held child reads as it does when not held, and as gone once it has
// exited and been reaped, before and after its file is released.
func TestHeldChildReadsLikeAnyOther(t *testing.T) {
	cmd := startChild(t)
	pid := cmd.Process.Pid
	plain, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	release := Hold(pid)
	defer release()
	got, err := ReadUsage(pid)
	if err != nil || !got.StartTime.Equal(plain.StartTime) || got.VMBytes == 0 {
		t.Fatalf("held: %+v, %v; not held: %+v", got, err, plain)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := ReadUsage(pid); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("held, reaped: got %v, want an error matching os.ErrNotExist", err)
	}
	release()
	release() // a second release does nothing
	if _, err := ReadUsage(pid); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("released, reaped: got %v, want an error matching os.ErrNotExist", err)
	}
}

// Reads racing a release either read the process or see it gone; none
// reads through a descriptor closed, or given to another file, under it.
func TestReadsRacingARelease(t *testing.T) {
	cmd := startChild(t)
	pid := cmd.Process.Pid
	want, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		release := Hold(pid)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if st, err := ReadUsage(pid); err != nil || !st.StartTime.Equal(want.StartTime) {
					t.Errorf("read during a release: %+v, %v", st, err)
				}
			})
		}
		release()
		wg.Wait()
	}
	held.Lock()
	defer held.Unlock()
	if len(held.files) != 0 {
		t.Errorf("held after every release: %v", held.files)
	}
}

// Past the budget, Hold holds nothing, and the process still reads.
func TestHoldKeepsToItsBudget(t *testing.T) {
	a, b := startChild(t).Process.Pid, startChild(t).Process.Pid
	budget := heldBudget()
	held.Lock()
	for i := len(held.files); i < budget-1; i++ {
		held.files[-1-i] = &heldFile{closed: true} // stand-ins filling the budget but one
	}
	held.Unlock()
	defer func() {
		held.Lock()
		for pid := range held.files {
			if pid < 0 {
				delete(held.files, pid)
			}
		}
		held.Unlock()
	}()
	releaseA, releaseB := Hold(a), Hold(b)
	defer releaseA()
	defer releaseB()
	held.Lock()
	_, heldA := held.files[a]
	_, heldB := held.files[b]
	held.Unlock()
	if !heldA || heldB {
		t.Errorf("with room for one more: pid %d held %v, pid %d held %v; want the first only", a, heldA, b, heldB)
	}
	if _, err := ReadUsage(b); err != nil {
		t.Errorf("pid %d, not held: %v", b, err)
	}
}
