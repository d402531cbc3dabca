package manager

import (
	"os"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testchild"
)

// The test binary plays the instances: a config's command re-executes it
// with HELLOMGR_TEST_CHILD naming the behaviour (internal/testchild).
func TestMain(m *testing.M) {
	testchild.Main()
	os.Exit(m.Run())
}
