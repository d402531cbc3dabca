// Command logtail measures what `hellomgr logs -n N` costs on a big log:
// it writes one port's log of -mb megabytes (lines of 100 bytes, split
// between a rotated file and the current one), runs the hellomgr built
// from this tree as `hellomgr logs -n 100000000` into /dev/null, checks it
// printed every line, and prints its peak RSS and time against the
// target: memory that does not grow with the log (at most 64 MB RSS).
//
//	go -C bench run ./logtail [-mb 142]
//
// Everything runs in a temporary folder; no manager is started.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// targetRSS is the most `logs -n 100000000` may take, whatever the log's size.
const targetRSS = 64 << 20

func main() {
	mb := flag.Int("mb", 142, "size of the log, in megabytes")
	flag.Parse()
	if err := run(context.Background(), *mb); err != nil {
		fmt.Fprintln(os.Stderr, "bench/logtail:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, mb int) error {
	dir, err := os.MkdirTemp("", "logtail")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := benchkit.Build(ctx, "..", dir)
	if err != nil {
		return err
	}
	lines, err := writeLog(filepath.Join(dir, "logs"), mb)
	if err != nil {
		return err
	}
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte("ports: [8001]\n"), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "logs", "-n", "100000000", "-c", config)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	begun := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	printed, err := countLines(out)
	if werr := cmd.Wait(); werr != nil {
		return fmt.Errorf("hellomgr logs: %w", werr)
	}
	if err != nil {
		return err
	}
	took := time.Since(begun)
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // kilobytes on Linux
	fmt.Printf("hellomgr logs -n 100000000 of a %d MB log (%d lines, load %s):\n", mb, lines, benchkit.LoadAverage())
	fmt.Printf("  printed %d lines in %s, peak RSS %.1f MB (target at most %d MB)\n", printed, took.Round(time.Millisecond), float64(rss)/(1<<20), targetRSS>>20)
	if printed != lines {
		return fmt.Errorf("printed %d lines, want %d", printed, lines)
	}
	if rss > targetRSS {
		fmt.Println("  NOT met: peak RSS over the target")
	}
	return nil
}

// writeLog writes port 8001's log under dir, half in a rotated file and
// half in the current one, and returns how many lines it holds.
func writeLog(dir string, mb int) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := mb << 20 / 100
	line := strings.Repeat("x", 99) + "\n"
	for i, name := range []string{"8001-2024-05-01T10-00-00.000.log", "8001.log"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for range n/2 + i*(n%2) {
			w.WriteString(line)
		}
		err = w.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

func countLines(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	n := 0
	for {
		_, err := br.ReadSlice('\n')
		switch err {
		case nil:
			n++
		case bufio.ErrBufferFull:
		case io.EOF:
			return n, nil
		default:
			return n, err
		}
	}
}
