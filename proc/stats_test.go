package proc

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestReadSelf(t *testing.T) {
	before, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.Threads < 1 {
		t.Errorf("threads: got %d, want at least 1", before.Threads)
	}
	if since := time.Since(before.StartTime); since < 0 || since > time.Hour {
		t.Errorf("start time: got %v (%v ago), want within the last hour", before.StartTime, since)
	}

	// Touch 32 MiB and open 5 files: both must show.
	const size = 32 << 20
	mem := make([]byte, size)
	for i := 0; i < size; i += os.Getpagesize() {
		mem[i] = 1
	}
	for range 5 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	after, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(mem)
	if after.RSSBytes < size {
		t.Errorf("rss after touching %d bytes: got %d", size, after.RSSBytes)
	}
	if got := after.OpenFDs - before.OpenFDs; got != 5 {
		t.Errorf("open fds: got %d more after opening 5 files (%d -> %d)", got, before.OpenFDs, after.OpenFDs)
	}
}

func TestReadCPU(t *testing.T) {
	before, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel has counted at least two more ticks.
	deadline := time.Now().Add(10 * time.Second)
	for x := 0; ; x++ {
		if x%1_000_000 == 0 {
			now, err := Read(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if now.CPUSeconds >= before.CPUSeconds+0.02 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("cpu seconds: still %v after 10s of work (was %v)", now.CPUSeconds, before.CPUSeconds)
			}
		}
	}
}

// TestReadChild checks processes whose numbers are known: sleep has one
// thread, and one started with two more files has two more descriptors
// (not an exact count: a child also inherits whatever descriptors the test
// binary inherited without close-on-exec).
func TestReadChild(t *testing.T) {
	started := time.Now()
	plain := startSleep(t)
	extra := startSleep(t, devNull(t), devNull(t))

	p, err := Read(plain)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Read(extra)
	if err != nil {
		t.Fatal(err)
	}
	if p.Threads != 1 {
		t.Errorf("sleep (pid %d) threads: got %d, want 1", plain, p.Threads)
	}
	// Both children also inherit whatever the test binary inherited
	// without close-on-exec, and right after exec the dynamic loader opens
	// and closes libraries: count against a listing of the folder, taken
	// until the two agree on a settled process.
	deadline := time.Now().Add(10 * time.Second)
	for {
		listed, _ := os.ReadDir("/proc/" + strconv.Itoa(extra) + "/fd")
		e, _ = Read(extra)
		if e.OpenFDs == len(listed) && e.OpenFDs >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep with 2 extra files (pid %d): got %d open fds, want %d (at least 5)", extra, e.OpenFDs, len(listed))
		}
		time.Sleep(time.Millisecond)
	}
	// btime has a resolution of one second, so allow that much either way.
	if d := p.StartTime.Sub(started); d < -time.Second || d > time.Second+time.Since(started) {
		t.Errorf("sleep (pid %d) start time: got %v, started at %v", plain, p.StartTime, started)
	}
}

// startSleep starts "sleep 30" with files as its descriptors 3 and up, and
// kills it when the test ends.
func startSleep(t *testing.T, files ...*os.File) int {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	cmd.ExtraFiles = files
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return waitExec(t, cmd.Process.Pid)
}

// waitExec waits until pid runs sleep. Until the exec, /proc shows the
// forked test binary, still arranging its descriptors.
func waitExec(t *testing.T, pid int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if string(comm) == "sleep\n" {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not exec sleep within 10s", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReadGone(t *testing.T) {
	cmd := exec.Command("sleep", "0")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	_, err := Read(cmd.Process.Pid)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reaped child (pid %d): got error %v, want one wrapping os.ErrNotExist", cmd.Process.Pid, err)
	}
	for _, pid := range []int{0, -1} {
		if _, err := Read(pid); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pid %d: got error %v, want one wrapping os.ErrNotExist", pid, err)
		}
	}
}

// TestReadZombie checks that a child that has exited but is not yet reaped
// already reads as gone.
func TestReadZombie(t *testing.T) {
	cmd := exec.Command("sleep", "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := Read(cmd.Process.Pid)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			t.Fatalf("zombie (pid %d): got error %v, want one wrapping os.ErrNotExist", cmd.Process.Pid, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("zombie (pid %d): still reads as running after 10s", cmd.Process.Pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func devNull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadUsageSkipsTheDescriptorCount(t *testing.T) {
	st, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSSBytes <= 0 || st.OpenFDs != 0 {
		t.Fatalf("ReadUsage(self): rss %d, fds %d; want a resident size and no fd count", st.RSSBytes, st.OpenFDs)
	}
	if _, err := ReadUsage(0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadUsage(0): %v, want not-exist", err)
	}
}

// TestCountFDsMatchesAListing opens and closes descriptors and compares
// the count with a listing of /proc/self/fd each time: on Linux 6.2 and
// later the count comes from the folder's size, without a listing.
func TestCountFDsMatchesAListing(t *testing.T) {
	dir := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd"
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for step := range 40 {
		if step < 30 {
			files = append(files, devNull(t))
		} else {
			files[len(files)-1].Close()
			files = files[:len(files)-1]
		}
		// Other goroutines of the test binary (the runtime's poller, a
		// parallel test) may open a descriptor between the two: retry.
		var got, listed int
		for range 10 {
			var err error
			if got, err = countFDs(dir); err != nil {
				t.Fatal(err)
			}
			if listed, err = listFDs(dir); err != nil {
				t.Fatal(err)
			}
			listed-- // the listing's own descriptor on the folder
			if got == listed {
				break
			}
		}
		if got != listed {
			t.Fatalf("step %d: countFDs %d, listing %d", step, got, listed)
		}
	}
}

func TestFDCountWithoutAListing(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/fd", &st); err != nil {
		t.Fatal(err)
	}
	if st.Size == 0 {
		t.Skip("this kernel (before 6.2) gives /proc/PID/fd no size: countFDs lists the folder")
	}
	n, _ := listFDs("/proc/self/fd")
	if int(st.Size) < n-3 || int(st.Size) > n+1 { // the listing opens one itself
		t.Errorf("size of /proc/self/fd %d, listing %d", st.Size, n)
	}
}

func BenchmarkRead(b *testing.B) {
	for b.Loop() {
		if _, err := Read(os.Getpid()); err != nil {
			b.Fatal(err)
		}
	}
}
